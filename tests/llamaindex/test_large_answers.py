"""Huge answers stream in linear time: beyond 64 Ki characters of text so far, LyzrLLM makes a
response once the new text is 1/64 of it or 50 ms after the previous one (each response copies
the text so far)."""

from __future__ import annotations

import pytest

from llamaindex_lyzr_stream import LyzrLLM, _convert
from llamaindex_lyzr_stream._convert import LARGE_ANSWER_CHARS, Accumulator
from lyzr_stream import AgentResponse, ReasoningDelta, TextDelta
from lyzr_stream.emulator import Emulator, long_answer_tokens


def _final(text: str) -> AgentResponse:
    return AgentResponse(text=text, agent_id="a", session_id="s", user_id="u")


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Time stands still: only the size rule makes responses (the bulk-arrival worst case)."""
    monkeypatch.setattr(_convert, "_clock", lambda: 1000.0)


@pytest.mark.parametrize("chat", [True, False])
def test_copies_stay_linear_and_nothing_is_lost(chat: bool, frozen_clock: None) -> None:
    acc = Accumulator()
    step = acc.chat if chat else acc.completion
    piece = "x" * 1000
    total = 128 * LARGE_ANSWER_CHARS  # 8 Mi characters in 1,000-character deltas
    deltas, copied = [], 0
    for _ in range(total // len(piece)):
        response = step(TextDelta(piece))
        if response is not None:
            deltas.append(response.delta)
            copied += len(response.message.content if chat else response.text)  # type: ignore[union-attr]
    final = (acc.final_chat if chat else acc.final_completion)(_final(piece * (total // 1000)), {})
    deltas.append(final.delta)
    assert "".join(deltas) == piece * (total // len(piece))  # every character, once, in order
    # Below the threshold every delta is a response; above it the copies grow geometrically:
    # the total copied is a small multiple of the answer, not answer x events.
    small = LARGE_ANSWER_CHARS // len(piece)
    assert small <= len(deltas) < small + 400  # ~ln(128) / ln(1 + 1/64) = 313 beyond it
    assert copied < 70 * total  # one response per delta would copy ~4,000 x the answer


def test_small_answers_are_never_held() -> None:
    acc = Accumulator()
    for i in range(5000):
        response = acc.completion(TextDelta(f" w{i}"))
        assert response is not None and response.delta == f" w{i}"


def test_a_slow_stream_updates_at_least_every_50_ms(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(_convert, "_clock", lambda: now[0])
    acc = Accumulator()
    assert acc.completion(TextDelta("a" * LARGE_ANSWER_CHARS)) is not None
    assert acc.completion(TextDelta("a")) is not None
    now[0] += 0.01
    assert acc.completion(TextDelta("b")) is None
    now[0] += 0.06
    response = acc.completion(TextDelta("c"))
    assert response is not None and response.delta == "bc"


def test_held_text_leaves_with_the_next_response_of_any_kind(frozen_clock: None) -> None:
    acc = Accumulator()
    assert acc.chat(TextDelta("a" * LARGE_ANSWER_CHARS)) is not None
    assert acc.chat(TextDelta("b")) is not None  # the first delta beyond the threshold leaves
    assert acc.chat(TextDelta("held")) is None
    response = acc.chat(ReasoningDelta("thinking"))
    assert response is not None
    assert response.delta == "held"
    assert response.message.content is not None and response.message.content.endswith("held")


def test_a_megabyte_stream_is_whole(lyzr_emulator: Emulator) -> None:
    tokens = 200_000  # about 1.3 MB of text, 20 times the threshold
    llm = LyzrLLM(
        agent_id=f"long-{tokens}",
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
        default_headers={"x-emulator-events-per-write": "1000"},
        coalesce=False,  # one response per event: the worst case for copying
    )
    expected = "".join(long_answer_tokens(tokens))
    assert len(expected) > 16 * LARGE_ANSWER_CHARS
    responses = list(llm.stream_complete("go"))
    assert "".join(r.delta or "" for r in responses) == expected
    assert responses[-1].text == expected
