"""Coalescing: text deltas already in hand leave as one delta; coalesce=False keeps one a token."""

from __future__ import annotations

import asyncio

from lyzr_stream import LyzrClient, Metadata, ReasoningDelta, StreamEnd, TextDelta
from lyzr_stream._stream import coalesce_events
from lyzr_stream.dialects._base import ParsedEvent
from lyzr_stream.emulator import Emulator
from tests.conftest import assert_async_pools_clean
from tests.helpers.clients import make_client, req, text_of


# -- the rule on a batch of events (no I/O) ---------------------------------------------------
def test_runs_merge_in_order_around_other_events() -> None:
    meta = Metadata("start", {"id": 1})
    events: list[ParsedEvent] = [
        ReasoningDelta("th"),
        ReasoningDelta("ink"),
        TextDelta("Hel"),
        TextDelta("lo"),
        ReasoningDelta("again"),
        TextDelta(" "),
        meta,
        TextDelta("world"),
        TextDelta("!"),
        StreamEnd(),
    ]
    assert coalesce_events(events) == [
        ReasoningDelta("think"),
        TextDelta("Hello"),
        ReasoningDelta("again"),
        TextDelta(" "),
        meta,
        TextDelta("world!"),
        StreamEnd(),
    ]


def test_nothing_to_merge_keeps_the_events() -> None:
    single: list[ParsedEvent] = [TextDelta("a")]
    assert coalesce_events(single) is single
    alternating: list[ParsedEvent] = [TextDelta("a"), ReasoningDelta("b"), TextDelta("c")]
    assert coalesce_events(alternating) == alternating
    assert coalesce_events([ReasoningDelta("x"), ReasoningDelta("y")]) == [ReasoningDelta("xy")]


# -- one read of many events ---------------------------------------------------------------------
def test_long_answer_with_batched_writes(lyzr_emulator: Emulator) -> None:
    from lyzr_stream.emulator import long_answer_tokens

    with make_client(lyzr_emulator, default_headers={"x-emulator-events-per-write": "50"}) as c:
        with c.stream(req("long-2000")) as stream:
            events = list(stream)
    assert text_of(events) == "".join(long_answer_tokens(2000))
    # Coalescing: deltas that arrive in one read leave as one chunk.
    assert sum(isinstance(e, TextDelta) for e in events) < 2000


def test_coalescing_off_keeps_one_delta_per_token(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-events-per-write": "50"}
    with make_client(lyzr_emulator, coalesce=False, default_headers=headers) as c:
        events = list(c.stream(req("long-300")))
    assert sum(isinstance(e, TextDelta) for e in events) == 300


# -- read-ahead: what piles up behind a slow async consumer -------------------------------------
async def _deltas_of_a_slow_consumer(c: LyzrClient) -> list[str]:
    """A long answer read by a consumer that is busy for 0.3 s after its first delta."""
    deltas: list[str] = []
    async with c.astream(req("long-300")) as stream:
        async for event in stream:
            if isinstance(event, TextDelta):
                deltas.append(event.text)
                if len(deltas) == 1:
                    await asyncio.sleep(0.3)  # busy: the rest of the answer arrives meanwhile
    return deltas


async def test_a_slow_consumer_gets_what_piled_up_as_one_delta(lyzr_emulator: Emulator) -> None:
    c = make_client(lyzr_emulator)
    deltas = await _deltas_of_a_slow_consumer(c)
    from lyzr_stream.emulator import long_answer_tokens

    assert "".join(deltas) == "".join(long_answer_tokens(300))
    assert len(deltas) < 50, f"{len(deltas)} deltas: what was in hand was not merged"
    assert_async_pools_clean(c)
    await c.aclose()


async def test_without_coalescing_every_token_is_its_own_delta(lyzr_emulator: Emulator) -> None:
    c = make_client(lyzr_emulator, coalesce=False)
    deltas = await _deltas_of_a_slow_consumer(c)
    assert len(deltas) == 300
    await c.aclose()
