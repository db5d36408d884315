"""What a ChatLyzr answer carries: ids, artifacts, timing, reasoning as a block, no fake usage."""

from __future__ import annotations

import pytest

from tests.langchain.conftest import ModelFactory


def test_response_metadata(make_model: ModelFactory) -> None:
    meta = make_model("artifacts", session_id="s1", user_id="u1").invoke("x").response_metadata
    assert meta["agent_id"] == meta["model_name"] == "artifacts"
    assert (meta["session_id"], meta["user_id"]) == ("s1", "u1")
    assert meta["message_id"]
    assert meta["finish_reason"] == "stop"
    assert meta["artifacts"][0]["name"] == "report.txt"
    last = list(make_model(session_id="s2").stream("x"))[-1].response_metadata
    assert last["time_to_first_token"] >= 0
    assert last["total_time"] >= last["time_to_first_token"]


def test_no_invented_usage(make_model: ModelFactory) -> None:
    assert make_model().invoke("x").usage_metadata is None


@pytest.mark.parametrize("streaming", [False, True])
def test_reasoning_is_a_block_not_answer_text(make_model: ModelFactory, streaming: bool) -> None:
    message = make_model("reasoning", streaming=streaming).invoke("x")
    assert message.text == "The answer is 42."
    assert message.additional_kwargs["reasoning_content"] == "Let me think about it."
    blocks = message.content_blocks
    assert blocks[0] == {"type": "reasoning", "reasoning": "Let me think about it."}
    assert {"type": "text", "text": "The answer is 42."} in blocks


@pytest.mark.parametrize("streaming", [False, True])
async def test_timing_keys_on_invoke(make_model: ModelFactory, streaming: bool) -> None:
    model = make_model(**({"streaming": True} if streaming else {}))
    for meta in (model.invoke("x").response_metadata, (await model.ainvoke("x")).response_metadata):
        assert meta["total_time"] > 0
        assert 0 < meta["time_to_first_token"] <= meta["total_time"]
        if not streaming:  # a whole answer: its first token arrives with all of it
            assert meta["time_to_first_token"] == meta["total_time"]
