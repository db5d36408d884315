"""The one JSON decoding step: limits on size and depth, typed errors, and where it is used."""

from __future__ import annotations

import json

import pytest

from lyzr_stream import APIResponseValidationError, InvalidRequestError
from lyzr_stream._json import MAX_DEPTH, NOT_JSON, decode, decode_or_text, encode_body
from lyzr_stream._routes.sessions import parse_history
from lyzr_stream._text import (
    may_hold_surrogate_escape,
    replace_lone_surrogates,
    without_lone_surrogates,
)
from lyzr_stream.dialects import get_dialect
from lyzr_stream.dialects._base import StreamFailure
from lyzr_stream.dialects._lyzr_v3 import LyzrV3StreamParser, payload_events

DEEP = "[" * 200_000 + "]" * 200_000


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_decode_gives_the_value_or_a_typed_error_naming_what() -> None:
    assert decode(b'{"a": [1, 2]}', what="x") == {"a": [1, 2]}
    with pytest.raises(APIResponseValidationError, match="the answer is not valid JSON"):
        decode("{nope", what="the answer")
    with pytest.raises(APIResponseValidationError, match="the answer exceeded 4 bytes"):
        decode(b"[1, 2]", what="the answer", max_bytes=4)


def test_depth_is_limited_below_the_recursion_limit_and_far_beyond_it() -> None:
    assert decode(_nested(MAX_DEPTH), what="x") == decode(_nested(MAX_DEPTH), what="x")
    with pytest.raises(APIResponseValidationError, match=f"deeper than {MAX_DEPTH}"):
        decode(_nested(MAX_DEPTH + 1), what="x")
    for deep in (DEEP, DEEP.encode()):
        with pytest.raises(APIResponseValidationError, match="deeper") as info:
            decode(deep, what="x")
        assert info.value.__cause__ is None and info.value.__suppress_context__
    # Many shallow objects are not deep: a long history reads fine.
    many = "[" + ",".join('{"role": "user", "content": "hi"}' for _ in range(500)) + "]"
    assert len(decode(many, what="x")) == 500


def test_decode_or_text_tells_text_from_json_but_still_refuses_deep_json() -> None:
    assert decode_or_text("hello {world}", what="x") is NOT_JSON
    assert decode_or_text('{"a": 1}', what="x") == {"a": 1}
    with pytest.raises(APIResponseValidationError, match="deeper"):
        decode_or_text(DEEP, what="x")


def test_encode_body_names_what_cannot_be_sent() -> None:
    assert encode_body({"a": "é", "b": (1, 2)}) == '{"a":"é","b":[1,2]}'.encode()
    with pytest.raises(InvalidRequestError, match="cannot be sent as JSON"):
        encode_body({"a": float("nan")})
    with pytest.raises(InvalidRequestError, match="object"):
        encode_body({"a": object()})


# -- every reader of service JSON goes through it ------------------------------------------------
def test_a_deep_stream_event_is_a_typed_failure_not_a_recursion_error() -> None:
    failure = payload_events('{"content": ' + DEEP + "}")
    assert failure is not None and isinstance(failure[0], StreamFailure)
    assert isinstance(failure[0].error, APIResponseValidationError)
    parser = LyzrV3StreamParser(1 << 22)
    events = parser.feed(("data: " + DEEP + "\n\n").encode())
    assert all(not isinstance(e, StreamFailure) or "deeper" in str(e.error) for e in events)


def test_a_deep_one_shot_answer_and_route_answer_are_typed_errors() -> None:
    dialect = get_dialect("lyzr-v3")
    from lyzr_stream import AgentRequest

    request = AgentRequest(agent_id="a", message="m", session_id="s", user_id="u")
    with pytest.raises(APIResponseValidationError, match="deeper"):
        dialect.parse_chat(('{"response": ' + DEEP + "}").encode(), request)
    with pytest.raises(APIResponseValidationError, match="deeper"):
        parse_history(DEEP.encode())


# -- "not JSON" versus "JSON over the limits" ------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        '{"answer": 4',  # cut, shallow: text
        "{{{{" * 100,  # a syntax error at the second character: text, however many braces
        "[" * MAX_DEPTH + "x",  # the parser read MAX_DEPTH levels, then a syntax error: text
        '{"a": "' + "[" * 1000 + '"',  # brackets inside a string do not nest
    ],
)
def test_invalid_json_within_the_limits_is_text(text: str) -> None:
    assert decode_or_text(text, what="x") is NOT_JSON
    assert decode_or_text(text.encode(), what="x") is NOT_JSON


@pytest.mark.parametrize(
    "text",
    [
        "[" * 200_000,  # never closed
        '{"a":' * 200_000,  # never closed
        "[" * (MAX_DEPTH + 1) + "x",  # read deeper than the limit before the syntax error
        '{"a": ' + '{"b": [' * 300 + "1, }",  # nested past the limit, then broken
    ],
)
def test_json_over_the_limits_is_an_error_valid_or_not(text: str) -> None:
    for data in (text, text.encode()):
        with pytest.raises(APIResponseValidationError, match=f"deeper than {MAX_DEPTH}"):
            decode_or_text(data, what="x")
        with pytest.raises(APIResponseValidationError, match=f"deeper than {MAX_DEPTH}"):
            decode(data, what="x")


# -- lone surrogates: one rule, where decoded strings come out ------------------------------------
def test_decoded_strings_hold_no_lone_surrogate_keys_and_nesting_included() -> None:
    data = r'{"t": "a\ud83d", "\udc00k": ["\ud83d\ude00", {"n": "\uDBFF"}], "ok": "\ud55c"}'
    value = decode(data, what="x")
    assert value == {"t": "a\ufffd", "\ufffdk": ["😀", {"n": "\ufffd"}], "ok": "한"}
    assert decode(data.encode(), what="x") == value
    assert decode_or_text(r'"\udfff"', what="x") == "\ufffd"
    json.dumps(value, ensure_ascii=False).encode()  # encodes: nothing left to fail


def test_surrogate_walk_only_when_the_raw_text_may_hold_a_surrogate_escape() -> None:
    assert not may_hold_surrogate_escape(r'{"k": "\ud55c\u00e9 \\ud"}')
    assert may_hold_surrogate_escape(r'{"k": "\uD83D"}')
    assert may_hold_surrogate_escape(rb'{"k": "\udbff"}')
    value = ["é", {"a": "\ud83d"}]
    assert without_lone_surrogates(value) == ["é", {"a": "\ufffd"}]
    assert replace_lone_surrogates("\ud83d\ude00 \ud83d") == "😀 \ufffd"
