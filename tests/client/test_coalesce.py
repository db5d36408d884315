"""``coalesce_events``: adjacent deltas of one read merged, order and every other event kept."""

from __future__ import annotations

from lyzr_stream import Metadata, ReasoningDelta, StreamEnd, TextDelta
from lyzr_stream._stream import coalesce_events
from lyzr_stream.dialects._base import ParsedEvent


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
