"""ChatLyzr's calls: invoke (one-shot), stream, async, batch; a streamed invoke is the stream."""

from __future__ import annotations

import asyncio

from langchain_core.messages import AIMessage, AIMessageChunk

from lyzr_stream.emulator import Emulator
from tests.langchain.conftest import ModelFactory, TokenRecorder


def test_invoke_uses_the_one_shot_endpoint(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    message = make_model().invoke("hello")
    assert isinstance(message, AIMessage)
    assert message.content == "You said: hello"
    assert lyzr_emulator.requests[-1].path == "/v3/inference/chat/"


def test_stream_yields_chunks_then_a_last_chunk(make_model: ModelFactory) -> None:
    chunks = list(make_model().stream("one two three"))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(c.text for c in chunks) == "You said: one two three"
    assert len(chunks) > 2
    assert chunks[-1].chunk_position == "last"
    assert chunks[-1].response_metadata["finish_reason"] == "stop"


async def test_ainvoke_and_astream(make_model: ModelFactory) -> None:
    model = make_model()
    assert (await model.ainvoke("a")).content == "You said: a"
    chunks = [c async for c in model.astream("b c")]
    assert "".join(c.text for c in chunks) == "You said: b c"
    assert chunks[-1].chunk_position == "last"


def test_invoke_with_streaming_equals_the_concatenated_stream(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model(streaming=True)
    recorder = TokenRecorder()
    message = model.invoke("x y z", config={"callbacks": [recorder]})
    assert lyzr_emulator.requests[-1].path == "/v3/inference/stream/"
    streamed = "".join(c.text for c in model.stream("x y z"))
    assert message.content == streamed == "You said: x y z"
    # One token callback per text delta, then the closing chunk marked last.
    assert "".join(recorder.tokens) == streamed
    assert recorder.chunks[-1].message.chunk_position == "last"
    assert all(t for t in recorder.tokens[:-1])


def test_batch_and_abatch(make_model: ModelFactory) -> None:
    model = make_model()
    assert [m.content for m in model.batch(["a", "b"])] == ["You said: a", "You said: b"]
    results = asyncio.run(model.abatch(["c", "d"]))
    assert [m.content for m in results] == ["You said: c", "You said: d"]


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
