"""ChatLyzr on LangChain's documented extension points: one stop rule, one streaming path, the
run's own id and callbacks, and the config read where LCEL puts it. The seams ChatLyzr keeps on
langchain-core's public methods (a config given to them directly) are tested in test_seams.py."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import LC_ID_PREFIX, AIMessage
from langchain_core.prompts import ChatPromptTemplate

from langchain_lyzr_stream import ChatLyzr
from lyzr_stream.emulator import Emulator
from tests.helpers import activity_dialect  # noqa: F401  (registers the "test-activity" dialect)

from .conftest import ModelFactory, answer_requests

PROMPT = "hello world again"


class RunRecorder(BaseCallbackHandler):
    """Run ids as LangChain reports them, token callbacks, and custom events with their run."""

    def __init__(self) -> None:
        self.started: list[UUID] = []
        self.tokens: list[tuple[str, Any]] = []
        self.custom: list[tuple[str, UUID]] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **_: Any
    ) -> None:
        self.started.append(run_id)

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **_: Any) -> None:
        self.tokens.append((token, chunk))

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **_: Any) -> None:
        self.custom.append((name, run_id))


async def _text(model: ChatLyzr, path: str, stop: list[str] | None) -> str:
    if path == "invoke":
        return model.invoke(PROMPT, stop=stop).text
    if path == "ainvoke":
        return (await model.ainvoke(PROMPT, stop=stop)).text
    if path == "stream":
        return "".join(c.text for c in model.stream(PROMPT, stop=stop))
    return "".join([c.text async for c in model.astream(PROMPT, stop=stop)])


PATHS = ["invoke", "ainvoke", "stream", "astream"]


def _sessions(em: Emulator) -> list[str]:
    return [r.json["session_id"] for r in answer_requests(em)]


# -- one stop rule ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        ([], "You said: hello world again"),  # a per-call list, empty too, replaces the instance's
        (None, "You said: hello "),  # no per-call stop: the instance's applies
        (["again"], "You said: hello world "),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize("path", PATHS)
async def test_one_stop_rule_on_every_path(
    make_model: ModelFactory, path: str, streaming: bool, stop: list[str] | None, expected: str
) -> None:
    # (streaming=False given explicitly would make LangChain's stream() call invoke instead)
    model = make_model(stop=["world"], **({"streaming": True} if streaming else {}))
    assert await _text(model, path, stop) == expected


@pytest.mark.parametrize("path", PATHS)
async def test_text_held_at_the_end_for_a_possible_stop_is_delivered(
    make_model: ModelFactory, path: str
) -> None:
    # The answer ends with "wor", which could have been the start of "world".
    model = make_model(stop=["world"], **({"streaming": True} if path.endswith("invoke") else {}))
    if path == "invoke":
        out = model.invoke("it ends in wor").text
    elif path == "ainvoke":
        out = (await model.ainvoke("it ends in wor")).text
    elif path == "stream":
        out = "".join(c.text for c in model.stream("it ends in wor"))
    else:
        out = "".join([c.text async for c in model.astream("it ends in wor")])
    assert out == "You said: it ends in wor"


# -- the run's own id and callbacks ----------------------------------------------------------------
@pytest.mark.parametrize("streaming", [False, True])
def test_invoke_message_id_is_the_runs(make_model: ModelFactory, streaming: bool) -> None:
    recorder = RunRecorder()
    model = make_model(**({"streaming": True} if streaming else {}))
    message = model.invoke("a b", config={"callbacks": [recorder]})
    (run_id,) = recorder.started
    assert message.id is not None and message.id.startswith(f"{LC_ID_PREFIX}-{run_id}")
    if streaming:
        # Every token callback carries the run's message id, as LangChain's own path stamps it.
        ids = {chunk.message.id for _, chunk in recorder.tokens}
        assert ids == {f"{LC_ID_PREFIX}-{run_id}"}
        assert recorder.tokens[-1][1].message.chunk_position == "last"
        assert "".join(token for token, _ in recorder.tokens) == message.text


def test_stream_chunks_carry_the_runs_id(make_model: ModelFactory) -> None:
    recorder = RunRecorder()
    chunks = list(make_model().stream("a b", config={"callbacks": [recorder]}))
    (run_id,) = recorder.started
    assert {c.id for c in chunks} == {f"{LC_ID_PREFIX}-{run_id}"}
    # stream() fires the token callbacks itself: once per chunk, never twice.
    assert len(recorder.tokens) == len(chunks)


@pytest.mark.parametrize("path", ["invoke", "invoke-streaming", "stream", "astream", "ainvoke"])
async def test_custom_events_belong_to_the_chat_model_run(
    make_model: ModelFactory, path: str
) -> None:
    recorder = RunRecorder()
    streaming = {"streaming": True} if path == "invoke-streaming" else {}
    model = make_model(dialect="test-activity", **streaming)
    config: Any = {"callbacks": [recorder]}
    if path.startswith("invoke"):
        model.invoke("q", config=config)
    elif path == "ainvoke":
        await model.ainvoke("q", config=config)
    elif path == "stream":
        list(model.stream("q", config=config))
    else:
        [c async for c in model.astream("q", config=config)]
    (run_id,) = recorder.started
    assert recorder.custom == [("lyzr_tool_call", run_id), ("lyzr_tool_result", run_id)]


def test_custom_events_in_a_chain_belong_to_the_model_not_the_chain(
    make_model: ModelFactory,
) -> None:
    recorder = RunRecorder()
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | make_model(
        dialect="test-activity"
    )
    list(chain.stream({"q": "x"}, config={"callbacks": [recorder]}))
    (run_id,) = recorder.started
    assert [r for _, r in recorder.custom] == [run_id, run_id]


def test_custom_events_in_stream_events_v3(make_model: ModelFactory) -> None:
    import warnings

    recorder = RunRecorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stream = make_model(dialect="test-activity").stream_events(
            "q", version="v3", config={"callbacks": [recorder]}
        )
        list(stream)
    assert stream.output.text == "You said: q"
    assert [name for name, _ in recorder.custom] == ["lyzr_tool_call", "lyzr_tool_result"]


# -- the config of a direct call -------------------------------------------------------------------


def test_config_inside_langgraph_style_context_is_read(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    from langchain_core.runnables import RunnableLambda

    model = make_model()
    # A step that calls the model without passing its config, as LangGraph nodes do.
    step = RunnableLambda(lambda text: model.invoke(text))
    step.invoke("x", config={"configurable": {"session_id": "from-context"}})

    async def node(text: str) -> AIMessage:
        return await model.ainvoke(text)

    asyncio.run(
        RunnableLambda(node).ainvoke(
            "y", config={"configurable": {"session_id": "from-context-async"}}
        )
    )
    assert _sessions(lyzr_emulator) == [
        "from-context",
        "from-context-async",
    ]


def test_streamed_invoke_equals_the_stream_on_every_event_kind(make_model: ModelFactory) -> None:
    # One streaming path: a streamed invoke is what stream() delivers, merged.
    for agent in ("echo", "reasoning", "artifacts"):
        model = make_model(agent, session_id=f"same-{agent}", streaming=True)
        message = model.invoke("x y")
        chunks = list(model.stream("x y"))
        merged = chunks[0]
        for chunk in chunks[1:]:
            merged = merged + chunk
        assert isinstance(message, AIMessage)
        assert message.text == merged.text
        assert message.additional_kwargs.get("reasoning_content") == merged.additional_kwargs.get(
            "reasoning_content"
        )
        assert message.response_metadata.get("artifacts") == merged.response_metadata.get(
            "artifacts"
        )
