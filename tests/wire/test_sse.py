"""The SSE decoder on bytes: spec fields, line endings, and any split of the input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lyzr_stream._errors import APIResponseValidationError
from lyzr_stream.dialects._sse import ServerSentEvent, SSEDecoder
from tests.helpers.wire import in_pieces


def decode(data: bytes, cuts: list[int] | None = None) -> list[ServerSentEvent]:
    return in_pieces(SSEDecoder(), data, cuts)


def test_single_data_line_events() -> None:
    assert decode(b"data: a\n\ndata: b\n\n") == [ServerSentEvent("a"), ServerSentEvent("b")]


def test_space_after_colon_is_optional_and_only_one_is_removed() -> None:
    assert decode(b"data:a\n\ndata:  b\n\n") == [ServerSentEvent("a"), ServerSentEvent(" b")]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert decode(b"data: one\ndata: two\ndata:\n\n") == [ServerSentEvent("one\ntwo\n")]


def test_comments_are_ignored_and_event_id_retry_are_read() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b": keep-alive\nevent: token\nid: 7\nretry: 1500\ndata: x\n\n")
    assert events == [ServerSentEvent("x", "token", "7", 1500)]
    assert decoder.last_event_id == "7"
    assert decoder.retry == 1500


def test_event_without_data_is_not_dispatched() -> None:
    assert decode(b"event: ping\n\n: only a comment\n\n") == []


def test_id_persists_to_later_events() -> None:
    events = decode(b"id: 1\ndata: a\n\ndata: b\n\n")
    assert [e.id for e in events] == ["1", "1"]


def test_unknown_fields_and_bad_retry_are_ignored() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"foo: bar\nretry: soon\ndata: x\n\n") == [ServerSentEvent("x")]
    assert decoder.retry is None


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(newline: bytes) -> None:
    data = b"data: a" + newline + b"data: b" + newline + newline + b"data: c" + newline * 2
    assert decode(data) == [ServerSentEvent("a\nb"), ServerSentEvent("c")]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # "\r\n" then "\r": the line ends once, then a blank line dispatches the event.
    assert decoder.feed(b"\n\r") == [ServerSentEvent("a")]
    # The "\n" completing that last "\r\n" must not count as a second blank line.
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r\n") == [ServerSentEvent("b")]


def test_utf8_character_split_across_chunks() -> None:
    data = "data: héllo 🌍\n\n".encode()
    cut = data.index("🌍".encode()) + 2
    assert decode(data, [cut]) == [ServerSentEvent("héllo 🌍")]


def test_unterminated_last_event_is_dispatched_at_finish() -> None:
    assert decode(b"data: a\n\ndata: [DONE]\n") == [ServerSentEvent("a"), ServerSentEvent("[DONE]")]


def test_invalid_utf8_is_a_typed_error() -> None:
    with pytest.raises(APIResponseValidationError, match="not valid UTF-8"):
        decode(b"data: \xff\xfe\n\n")


def test_oversized_event_is_a_typed_error() -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    with pytest.raises(APIResponseValidationError, match="exceeded 1024 bytes"):
        for _ in range(20):
            decoder.feed(b"data: " + b"x" * 100)


def test_oversized_event_arriving_whole_keeps_the_events_before_it() -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    chunk = b"data: first\n\ndata: " + b"x" * 2000 + b"\n\ndata: [DONE]\n\n"
    assert [e.data for e in decoder.feed(chunk)] == ["first"]
    with pytest.raises(APIResponseValidationError, match="exceeded 1024 bytes"):
        decoder.finish()
    with pytest.raises(APIResponseValidationError, match="exceeded 1024 bytes"):
        decoder.feed(b"data: more\n\n")


def test_large_event_within_cap_in_many_chunks() -> None:
    payload = b"y" * 50_000
    data = b"data: " + payload + b"\n\n"
    events = decode(data, list(range(0, len(data), 7)))
    assert events == [ServerSentEvent(payload.decode())]


_SAMPLE = (
    b": hello\r\n"
    b"data: first\n\n"
    b"event: token\nid: 3\ndata: multi\ndata: line\r\n\r\n"
    b"data: caf\xc3\xa9 \xf0\x9f\x8c\x8d\r\r"
    b'retry: 100\ndata:{"content": "x"}\n\n'
    b"data: [DONE]\n\n"
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(_SAMPLE)), max_size=12))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    assert decode(_SAMPLE, cuts) == decode(_SAMPLE)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(min_size=1, max_size=20).filter(lambda s: "\n" not in s and "\r" not in s),
        min_size=1,
        max_size=8,
    ),
    st.data(),
)
def test_random_payloads_round_trip_under_random_splits(
    payloads: list[str], data: st.DataObject
) -> None:
    raw = b"".join(f"data: {p}\n\n".encode() for p in payloads)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=10))
    # A payload that begins with a space keeps it (only one space after the colon is removed).
    assert [e.data for e in decode(raw, cuts)] == payloads


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=5))
def test_leading_bom_is_dropped_under_any_split(cuts: list[int]) -> None:
    data = b"\xef\xbb\xbfdata: first\n\ndata: second\n\n"
    assert decode(data, [c for c in cuts if c <= len(data)]) == [
        ServerSentEvent("first"),
        ServerSentEvent("second"),
    ]


def test_only_a_leading_bom_is_dropped() -> None:
    # A BOM later in the stream is data (the spec strips one at the very start only).
    assert decode(b"data: a\n\n\xef\xbb\xbfdata: b\n\n") == [ServerSentEvent("a")]
    assert decode("data: \ufeffx\n\n".encode()) == [ServerSentEvent("\ufeffx")]
