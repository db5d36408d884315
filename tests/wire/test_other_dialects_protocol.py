"""Lyzr v2, AISquare and chat-messages dialects on bytes (no sockets)."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from lyzr_stream import AgentRequest, InvalidRequestError, get_dialect
from lyzr_stream._errors import (
    AgentError,
    APIResponseValidationError,
    StreamInterruptedError,
)
from lyzr_stream._events import Metadata, StreamEnd, TextDelta, ToolActivity
from lyzr_stream.dialects._aisquare import AISquareDialect
from lyzr_stream.dialects._base import Credentials, StreamFailure, StreamParser
from lyzr_stream.dialects._chat_messages import ChatMessagesDialect
from lyzr_stream.dialects._json_events import JsonEventParser
from lyzr_stream.dialects._lyzr_v2 import LyzrV2Dialect
from lyzr_stream.dialects._lyzr_v3 import LyzrV3StreamParser
from lyzr_stream.dialects._parsers import RawTextParser, UnexpectedContentParser
from tests.helpers.wire import in_pieces

KEY = Credentials(SecretStr("k-xyz"))
CHAT_ID = "550e8400-e29b-41d4-a716-446655440000"


def run(parser: StreamParser, data: bytes, cuts: list[int] | None = None) -> list[object]:
    return in_pieces(parser, data, [c for c in cuts or [] if c <= len(data)])


def text(events: list[object]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def sse_json(*objs: object) -> bytes:
    return b"".join(f"data: {json.dumps(o)}\n\n".encode() for o in objs)


def request(**kw: object) -> AgentRequest:
    return AgentRequest(
        **({"agent_id": "a", "message": "hi", "user_id": "u", "session_id": "s"} | kw)
    )


# -- registry ----------------------------------------------------------------------------------
def test_registry_names_and_options() -> None:
    assert isinstance(get_dialect("lyzr-v2"), LyzrV2Dialect)
    dialect = get_dialect("aisquare", {"auth_header": "X-Key", "auth_scheme": ""})
    assert isinstance(dialect, AISquareDialect) and dialect.auth_header == "X-Key"
    with pytest.raises(InvalidRequestError, match="invalid dialect_options"):
        get_dialect("aisquare", {"nope": 1})


@pytest.mark.parametrize("name", ["lyzr-v2", "aisquare", "chat-messages"])
@pytest.mark.parametrize(
    "field", ["system_prompt_variables", "filter_variables", "features", "assets"]
)
def test_fields_a_dialect_cannot_carry_are_refused(name: str, field: str) -> None:
    value: object = (
        {"k": "v"} if "variables" in field else ([{"type": "x"}] if field == "features" else ["id"])
    )
    with pytest.raises(InvalidRequestError, match=f"cannot send {field}"):
        get_dialect(name).validate(request(session_id="1", **{field: value}))


# -- lyzr v2 -----------------------------------------------------------------------------------
def test_v2_request() -> None:
    req = LyzrV2Dialect().stream_request(request(), KEY)
    assert (req.path, req.headers["x-api-key"]) == ("/v2/stream/", "k-xyz")
    assert req.json == {"user_id": "u", "agent_id": "a", "session_id": "s", "message": "hi"}


def test_v2_parser_by_content_type() -> None:
    dialect = LyzrV2Dialect()
    assert isinstance(
        dialect.stream_parser("text/event-stream", max_event_bytes=4096), LyzrV3StreamParser
    )
    assert isinstance(dialect.stream_parser("text/plain", max_event_bytes=4096), RawTextParser)
    assert isinstance(dialect.stream_parser("", max_event_bytes=4096), RawTextParser)
    assert isinstance(
        dialect.stream_parser("text/html", max_event_bytes=4096), UnexpectedContentParser
    )


RAW = "Grüße, 世界 🌍 — naïve".encode()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(RAW)), max_size=10))
def test_v2_raw_text_split_inside_characters(cuts: list[int]) -> None:
    events = run(RawTextParser(), RAW, cuts)
    assert text(events) == RAW.decode()
    assert isinstance(events[-1], StreamEnd)


def test_v2_raw_text_invalid_utf8() -> None:
    events = run(RawTextParser(), b"ok \xff")
    assert isinstance(events[-1], StreamFailure)
    assert isinstance(events[-1].error, APIResponseValidationError)


def test_v2_raw_text_truncated_character_at_end() -> None:
    events = run(RawTextParser(), "é".encode()[:1])
    assert isinstance(events[-1], StreamFailure)


# -- aisquare ----------------------------------------------------------------------------------
def test_aisquare_request_and_auth() -> None:
    req = AISquareDialect().stream_request(request(session_id="42"), KEY)
    assert req.path == "/api/v1/qllm/chat-stream/42/"
    assert req.json == {"prompt": "hi"}
    assert req.headers["authorization"] == "Bearer k-xyz"
    bare = AISquareDialect(auth_header="X-API-Key", auth_scheme="").stream_request(
        request(session_id="42"), KEY
    )
    assert bare.headers["x-api-key"] == "k-xyz"


@pytest.mark.parametrize("bad", ["abc", "1.5", "-3", "1/2", "s"])
def test_aisquare_session_must_be_an_integer(bad: str) -> None:
    with pytest.raises(InvalidRequestError, match="integer id"):
        AISquareDialect().validate(request(session_id=bad))


def test_aisquare_cannot_invent_a_session() -> None:
    with pytest.raises(InvalidRequestError, match="needs session_id"):
        AISquareDialect().new_session_id("a")


AISQUARE = sse_json(
    {"type": "start", "session_id": 42},
    {"type": "token", "token": "Hello"},
    {"type": "token", "content": " wor"},
    {"type": "token", "delta": "ld"},
    {"type": "token", "text": "!"},
    {"type": "complete"},
    {"type": "metadata", "metadata": {"message_id": 7, "suggestions": ["a", "b"], "title": "T"}},
    {"type": "end"},
)


def test_aisquare_events() -> None:
    events = run(
        AISquareDialect().stream_parser("text/event-stream", max_event_bytes=4096), AISQUARE
    )
    assert text(events) == "Hello world!"
    meta = [e for e in events if isinstance(e, Metadata) and e.kind == "metadata"]
    assert meta[0].data["suggestions"] == ["a", "b"]
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.message_id == "7"
    assert end.metadata["title"] == "T"


def test_aisquare_error_keeps_text_before_it() -> None:
    data = sse_json({"type": "token", "token": "Part"}, {"type": "error", "error": "boom"})
    events = run(AISquareDialect().stream_parser("text/event-stream", max_event_bytes=4096), data)
    assert text(events) == "Part"
    failure = events[-1]
    assert isinstance(failure, StreamFailure) and isinstance(failure.error, AgentError)
    assert "boom" in str(failure.error)


def test_aisquare_without_end_is_interrupted() -> None:
    data = sse_json({"type": "token", "token": "x"})
    events = run(AISquareDialect().stream_parser("text/event-stream", max_event_bytes=4096), data)
    assert isinstance(events[-1], StreamFailure)
    assert isinstance(events[-1].error, StreamInterruptedError)


def test_unknown_event_types_are_metadata_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    JsonEventParser._warned.discard(("aisquare", "surprise"))
    data = sse_json({"type": "surprise", "x": 1}, {"type": "surprise", "x": 2}, {"type": "end"})
    with caplog.at_level(logging.WARNING, logger="lyzr_stream"):
        events = run(
            AISquareDialect().stream_parser("text/event-stream", max_event_bytes=4096), data
        )
    unknown = [e for e in events if isinstance(e, Metadata) and e.kind == "surprise"]
    assert [e.data["x"] for e in unknown] == [1, 2]
    assert sum("surprise" in r.getMessage() for r in caplog.records) == 1
    assert isinstance(events[-1], StreamEnd)


def test_json_event_parser_rejects_non_json() -> None:
    events = run(
        AISquareDialect().stream_parser("text/event-stream", max_event_bytes=4096),
        b"data: not json\n\n",
    )
    assert isinstance(events[-1], StreamFailure)
    assert isinstance(events[-1].error, APIResponseValidationError)


# -- chat-messages -----------------------------------------------------------------------------
def test_chat_messages_request() -> None:
    workflow = str(uuid.uuid4())
    dialect = ChatMessagesDialect(workflow_id=workflow)
    req = dialect.stream_request(request(session_id=CHAT_ID, agent_id="gpt-4"), KEY)
    assert req.path == f"/api/chats/{CHAT_ID}/messages/stream"
    assert req.json == {"content": "hi", "modelId": "gpt-4", "userId": "u", "workflowId": workflow}
    assert req.cookies == {"session": "k-xyz"}
    assert req.headers["accept"] == "text/event-stream"
    assert "x-api-key" not in req.headers


@pytest.mark.parametrize("bad", ["not-a-uuid", "../../admin", "1"])
def test_chat_messages_ids_must_be_uuids(bad: str) -> None:
    with pytest.raises(InvalidRequestError, match="must be a UUID"):
        ChatMessagesDialect().validate(request(session_id=bad))
    with pytest.raises(InvalidRequestError, match="workflow_id must be a UUID"):
        ChatMessagesDialect(workflow_id=bad)


def test_chat_messages_session_ids_are_uuids() -> None:
    uuid.UUID(ChatMessagesDialect().new_session_id("gpt-4"))


CHAT = sse_json(
    {"type": "start", "messageId": "msg-1"},
    {"type": "content", "delta": "Quantum"},
    {"type": "tool_call", "toolName": "search", "toolArgs": {"q": "qubits"}},
    {"type": "tool_result", "toolName": "search", "result": {"hits": 3}},
    {"type": "content", "delta": " computing"},
    {"type": "end", "messageId": "msg-1"},
)


def test_chat_messages_events() -> None:
    events = run(
        ChatMessagesDialect().stream_parser("text/event-stream", max_event_bytes=4096), CHAT
    )
    assert text(events) == "Quantum computing"
    activity = [e for e in events if isinstance(e, ToolActivity)]
    assert [(a.phase, a.name) for a in activity] == [("call", "search"), ("result", "search")]
    assert activity[0].arguments == {"q": "qubits"}
    assert activity[1].result == {"hits": 3}
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.message_id == "msg-1"


def test_chat_messages_error() -> None:
    data = sse_json(
        {"type": "content", "delta": "a"},
        {"type": "error", "error": "RATE", "message": "slow down"},
    )
    events = run(
        ChatMessagesDialect().stream_parser("text/event-stream", max_event_bytes=4096), data
    )
    assert text(events) == "a"
    assert "RATE: slow down" in str(events[-1].error)  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(CHAT) + len(AISQUARE)), max_size=12))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    for dialect, data in ((ChatMessagesDialect(), CHAT), (AISquareDialect(), AISQUARE)):
        whole = run(dialect.stream_parser("text/event-stream", max_event_bytes=4096), data)
        split = run(dialect.stream_parser("text/event-stream", max_event_bytes=4096), data, cuts)
        assert text(split) == text(whole)
        assert [type(e) for e in split if not isinstance(e, TextDelta)] == [
            type(e) for e in whole if not isinstance(e, TextDelta)
        ]
        assert split[-1] == whole[-1]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_gives_only_typed_failures(data: bytes) -> None:
    for name in ("lyzr-v2", "aisquare", "chat-messages"):
        for content_type in ("text/event-stream", "text/plain"):
            parser = get_dialect(name).stream_parser(content_type, max_event_bytes=4096)
            for event in run(parser, data):
                if isinstance(event, StreamFailure):
                    assert isinstance(
                        event.error,
                        (APIResponseValidationError, AgentError, StreamInterruptedError),
                    )


# -- tags anywhere in every dialect --------------------------------------------------------------
FILES = [{"name": "r.txt", "file_url": "https://x.invalid/r.txt"}]
TAGGED = f"Start <think>hm</think>middle <artifacts>{json.dumps(FILES)}</artifacts>end"


def _pieces(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _check_tagged(events: list[object]) -> None:
    from lyzr_stream._events import ReasoningDelta
    from lyzr_stream._response import ResponseBuilder

    assert text(events) == "Start middle end"
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "hm"
    builder = ResponseBuilder()
    for event in events:
        if not isinstance(event, StreamFailure):
            builder.add(event)  # type: ignore[arg-type]
    assert builder.build(agent_id="a", session_id="s", user_id="u").artifacts == tuple(FILES)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_v2_raw_text_tags_anywhere(cuts: list[int]) -> None:
    parser = LyzrV2Dialect().stream_parser("text/plain", max_event_bytes=4096)
    _check_tagged(run(parser, TAGGED.encode(), cuts))


def test_v2_raw_text_drops_a_leading_bom() -> None:
    parser = LyzrV2Dialect().stream_parser("text/plain", max_event_bytes=4096)
    assert text(run(parser, b"\xef\xbb\xbfHi", [1])) == "Hi"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1200), max_size=8))
def test_aisquare_tags_anywhere(cuts: list[int]) -> None:
    data = sse_json(*({"type": "token", "token": p} for p in _pieces(TAGGED)), {"type": "end"})
    parser = AISquareDialect().stream_parser("text/event-stream", max_event_bytes=4096)
    _check_tagged(run(parser, data, cuts))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1200), max_size=8))
def test_chat_messages_tags_anywhere(cuts: list[int]) -> None:
    data = sse_json(
        {"type": "start", "messageId": "m"},
        *({"type": "content", "delta": p} for p in _pieces(TAGGED)),
        {"type": "end", "messageId": "m"},
    )
    parser = ChatMessagesDialect().stream_parser("text/event-stream", max_event_bytes=4096)
    _check_tagged(run(parser, data, cuts))


def test_json_event_dialects_replace_lone_surrogates() -> None:
    data = b'data: {"type": "token", "token": "a\\ud800b"}\n\ndata: {"type": "end"}\n\n'
    parser = AISquareDialect().stream_parser("text/event-stream", max_event_bytes=4096)
    assert text(run(parser, data)) == "a\ufffdb"


def test_other_dialects_keep_their_accept_headers() -> None:
    # Only the v3 routes follow the official Lyzr clients (application/json); the others keep
    # what their seeds say.
    v2 = LyzrV2Dialect().stream_request(request(), KEY)
    assert v2.headers["accept"] == "*/*"
    aisquare = AISquareDialect().stream_request(request(session_id="42"), KEY)
    assert aisquare.headers["accept"] == "text/event-stream"
    chat = ChatMessagesDialect().stream_request(request(session_id=CHAT_ID), KEY)
    assert chat.headers["accept"] == "text/event-stream"
