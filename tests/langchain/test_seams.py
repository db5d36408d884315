"""The seams ChatLyzr keeps on langchain-core's public methods, one test each.

``langchain_lyzr_stream/chat_models.py`` ("the seams langchain-core forces") says for each
override which langchain-core behaviour it answers. Each test here checks what its seam
guarantees, over real sockets against the emulator, and fails without the override; CI runs
the suite on the lowest supported langchain-core (``constraints/lowest.txt``) and on the newest,
so every seam is tested on both.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from langchain_core.language_models import chat_models as lc_chat_models
from langchain_core.messages import LC_ID_PREFIX
from langchain_core.runnables.config import var_child_runnable_config

from lyzr_stream.emulator import Emulator
from tests.helpers import activity_dialect  # noqa: F401  (registers the "test-activity" dialect)

from .conftest import ModelFactory, RunRecorder, answer_requests


def _bodies(em: Emulator) -> list[dict[str, Any]]:
    return [r.json for r in answer_requests(em)]


def _config(session_id: str, **extra: Any) -> Any:
    configurable = {"session_id": session_id, "system_prompt_variables": {"v": 1}}
    return {"configurable": configurable, **extra}


def test_invoke(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    """Seam ``ChatLyzr.invoke``: ``BaseChatModel.invoke`` hands ``_generate`` no
    ``configurable``; a config given to ``invoke`` (and to ``batch``, which calls it) still
    reaches the request, and the caller's context is left as it was."""
    model = make_model()
    model.invoke("a", config=_config("seam-invoke"))
    assert var_child_runnable_config.get() is None
    model.batch(["b", "c"], config=_config("seam-batch"))
    bodies = _bodies(lyzr_emulator)
    assert [b["session_id"] for b in bodies] == ["seam-invoke", "seam-batch", "seam-batch"]
    assert all(b["system_prompt_variables"] == {"v": 1} for b in bodies)


async def test_ainvoke(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    """Seam ``ChatLyzr.ainvoke``: as ``invoke``'s, for ``ainvoke`` and ``abatch``
    (``BaseChatModel.ainvoke`` hands ``_agenerate`` no ``configurable``)."""
    model = make_model()
    await model.ainvoke("a", config=_config("seam-ainvoke"))
    assert var_child_runnable_config.get() is None
    await model.abatch(["b", "c"], config=_config("seam-abatch"))
    bodies = _bodies(lyzr_emulator)
    assert [b["session_id"] for b in bodies] == ["seam-ainvoke", "seam-abatch", "seam-abatch"]
    assert all(b["system_prompt_variables"] == {"v": 1} for b in bodies)


def test_stream(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    """Seam ``ChatLyzr.stream``: ``BaseChatModel.stream`` calls ``_stream`` with neither the
    run manager nor the config; the config's session options reach the request and its
    callbacks get the server-side tool activity as custom events of the stream's run, while
    between chunks the caller's context stays its own."""
    recorder = RunRecorder()
    model = make_model(dialect="test-activity")
    contexts = []
    for _ in model.stream("a", config=_config("seam-stream", callbacks=[recorder])):
        contexts.append(var_child_runnable_config.get())
    assert contexts and all(c is None for c in contexts)
    (body,) = _bodies(lyzr_emulator)
    assert body["session_id"] == "seam-stream"
    assert body["system_prompt_variables"] == {"v": 1}
    (run_id,) = recorder.started
    assert recorder.custom == [("lyzr_tool_call", run_id), ("lyzr_tool_result", run_id)]


async def test_astream(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    """Seam ``ChatLyzr.astream``: as ``stream``'s, for ``astream`` (``BaseChatModel.astream``
    calls ``_astream`` with neither the run manager nor the config)."""
    recorder = RunRecorder()
    model = make_model(dialect="test-activity")
    contexts = []
    async for _ in model.astream("a", config=_config("seam-astream", callbacks=[recorder])):
        contexts.append(var_child_runnable_config.get())
    assert contexts and all(c is None for c in contexts)
    (body,) = _bodies(lyzr_emulator)
    assert body["session_id"] == "seam-astream"
    assert body["system_prompt_variables"] == {"v": 1}
    (run_id,) = recorder.started
    assert recorder.custom == [("lyzr_tool_call", run_id), ("lyzr_tool_result", run_id)]


def test_stream_events(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    """Seam ``ChatLyzr.stream_events``: ``stream_events(version="v3")`` runs ``_stream`` only
    when its ``ChatModelStream`` is read, after the call; the session options of the config
    given to it still reach the request, LangGraph's ``thread_id`` included, and a per-call
    keyword still wins over the config."""
    model = make_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # v3 is a LangChain beta
        first = model.stream_events("x", _config("seam-v3"), version="v3", user_id="kw-user")
        list(first)
        second = model.stream_events("y", {"configurable": {"thread_id": "t-v3"}}, version="v3")
        list(second)
    assert first.output.text == "You said: x"
    bodies = _bodies(lyzr_emulator)
    assert [b["session_id"] for b in bodies] == ["seam-v3", "t-v3"]
    assert bodies[0]["system_prompt_variables"] == {"v": 1}
    assert bodies[0]["user_id"] == "kw-user"


async def test_astream_events(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    """Seam ``ChatLyzr.astream_events``: as ``stream_events``'s, for
    ``astream_events(version="v3")``, whose producer task starts on the first read."""
    model = make_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # v3 is a LangChain beta
        stream = await model.astream_events(
            "x", _config("seam-av3"), version="v3", user_id="kw-user"
        )
        [e async for e in stream]
    (body,) = _bodies(lyzr_emulator)
    assert body["session_id"] == "seam-av3"
    assert body["system_prompt_variables"] == {"v": 1}
    assert body["user_id"] == "kw-user"


@pytest.mark.parametrize("bound", ["structured", "forced-tool"])
async def test_stream_events_v3_framework_calls_in_a_thread_stay_stateless(
    make_model: ModelFactory, lyzr_emulator: Emulator, bound: str
) -> None:
    """The v3 seam hands the thread to ``_stream`` as the configurable layer, not as a
    per-call session id (which would keep a framework call in the session), and carries the
    ``with_structured_output`` mark v3 removes before ``_stream``: a forced tool call or a
    structured call through ``astream_events(version="v3")`` in a thread runs stateless, as it
    does through ``invoke``."""
    model = make_model("memory")
    thread: Any = {"configurable": {"thread_id": f"v3-internal-{bound}"}}
    model.invoke("My name is Ada", thread)
    schema = {"title": "Person", "type": "object", "properties": {"name": {"type": "string"}}}
    runnable: Any = (
        model.bind(ls_structured_output_format={"kwargs": {}, "schema": schema})
        if bound == "structured"
        else model.bind_tools([schema], tool_choice="Person")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # v3 is a LangChain beta
        stream = await runnable.astream_events("Ada", thread, version="v3")
        [e async for e in stream]
    body = _bodies(lyzr_emulator)[-1]
    assert body["session_id"] != f"v3-internal-{bound}"
    memory = list(lyzr_emulator.state.history(f"v3-internal-{bound}"))
    assert [text for role, text in memory if role == "user"] == ["My name is Ada"]


@pytest.mark.parametrize("use_async", [False, True])
async def test_should_stream(
    make_model: ModelFactory, monkeypatch: pytest.MonkeyPatch, use_async: bool
) -> None:
    """Seam ``ChatLyzr._should_stream``: a streamed ``invoke`` (``streaming=True``) stays on
    ``_generate``/``_agenerate`` with its run manager and builds its answer from the core's
    response; it never goes through ``_generate_with_cache``'s chunk-merging path
    (``generate_from_stream``, quadratic in the number of chunks). The token callbacks still
    fire once per chunk, each with the run's message id."""

    def merged(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a streamed invoke merged its chunks (generate_from_stream)")

    monkeypatch.setattr(lc_chat_models, "generate_from_stream", merged)
    recorder = RunRecorder()
    model = make_model("long-300", streaming=True, coalesce=False)
    config: Any = {"callbacks": [recorder]}
    message = await model.ainvoke("x", config) if use_async else model.invoke("x", config)
    (run_id,) = recorder.started
    assert message.id == f"{LC_ID_PREFIX}-{run_id}"
    assert len(recorder.tokens) > 300  # one per word, then the closing chunk
    assert "".join(token for token, _ in recorder.tokens) == message.text
    assert {chunk.message.id for _, chunk in recorder.tokens} == {message.id}
    assert message.response_metadata["finish_reason"] == "stop"
