"""The one JSON decoding step: limits on size and depth, typed errors, and where it is used."""

from __future__ import annotations

import pytest

from lyzr_stream import APIResponseValidationError, InvalidRequestError
from lyzr_stream._json import MAX_DEPTH, NOT_JSON, decode, decode_or_text, encode_body
from lyzr_stream._routes.sessions import parse_history
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
