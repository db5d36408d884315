"""Callbacks: a token callback a delta, the run's id on every message, custom events in the run."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import LC_ID_PREFIX
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.prompts import ChatPromptTemplate

from tests.helpers import activity_dialect  # noqa: F401  (registers the "test-activity" dialect)
from tests.langchain.conftest import ModelFactory, RunRecorder, TokenRecorder


def test_on_llm_new_token_once_per_delta_when_streaming(make_model: ModelFactory) -> None:
    recorder = TokenRecorder()
    chunks = list(make_model(coalesce=False).stream("a b", config={"callbacks": [recorder]}))
    assert len(recorder.tokens) == len(chunks)
    assert [c.message.content for c in recorder.chunks] == [c.content for c in chunks]
    assert isinstance(recorder.chunks[0], ChatGenerationChunk)


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
