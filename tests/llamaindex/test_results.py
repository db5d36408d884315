"""What a LyzrLLM response carries: ids, artifacts, timing, reasoning as a thinking block."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ThinkingBlock

from tests.llamaindex.conftest import LLMFactory, user


def test_results_carry_ids_artifacts_and_timing(make_llm: LLMFactory) -> None:
    response = make_llm("artifacts", session_id="s1").chat([user("x")])
    extras = response.additional_kwargs
    assert extras["session_id"] == "s1" and extras["message_id"]
    assert extras["artifacts"][0]["name"] == "report.txt"
    last = list(make_llm(session_id="s2").stream_chat([user("x")]))[-1]
    assert last.additional_kwargs["time_to_first_token"] >= 0
    assert last.message.additional_kwargs["session_id"] == "s2"


async def test_one_shot_results_carry_timing(make_llm: LLMFactory) -> None:
    llm = make_llm()
    for extras in (
        llm.chat([ChatMessage(role=MessageRole.USER, content="hi")]).additional_kwargs,
        llm.complete("hi").additional_kwargs,
        (await llm.achat([ChatMessage(role=MessageRole.USER, content="hi")])).additional_kwargs,
        (await llm.acomplete("hi")).additional_kwargs,
    ):
        assert extras["total_time"] >= extras["time_to_first_token"] > 0


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_goes_to_a_thinking_block(make_llm: LLMFactory, stream: bool) -> None:
    llm = make_llm("reasoning")
    if stream:
        responses = list(llm.stream_chat([user("x")]))
        thinking = "".join(r.additional_kwargs.get("thinking_delta", "") for r in responses)
        assert thinking == "Let me think about it."
        assert "".join(r.delta or "" for r in responses) == "The answer is 42."
        response = responses[-1]
    else:
        response = llm.chat([user("x")])
    assert response.message.content == "The answer is 42."
    [block] = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert block.content == "Let me think about it."
