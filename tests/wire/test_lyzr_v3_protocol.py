"""The Lyzr v3 dialect on bytes: request building and every stream payload form."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from lyzr_stream import AgentRequest, ChatMessage, ToolSpec
from lyzr_stream._errors import AgentError, APIResponseValidationError, StreamInterruptedError
from lyzr_stream._events import (
    Metadata,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolCall,
    ToolCallRequest,
)
from lyzr_stream.dialects._base import Credentials, StreamFailure
from lyzr_stream.dialects._lyzr_v3 import LyzrV3Dialect, LyzrV3StreamParser
from lyzr_stream.dialects._parsers import JsonBodyParser, UnexpectedContentParser
from tests.helpers.wire import parse, sse, texts

DIALECT = LyzrV3Dialect()
CREDS = Credentials(SecretStr("k-123"))


def request(**kw: object) -> AgentRequest:
    base: dict[str, object] = {"agent_id": "a1", "message": "hi", "user_id": "u", "session_id": "s"}
    return AgentRequest(**(base | kw))


# -- request building ------------------------------------------------------------------------
def test_stream_request_has_path_headers_and_required_body() -> None:
    req = DIALECT.stream_request(request(), CREDS)
    assert (req.method, req.path) == ("POST", "/v3/inference/stream/")
    assert req.headers["x-api-key"] == "k-123"
    # Every official client sends Accept: application/json, the stream route included.
    assert req.headers["accept"] == "application/json"
    assert req.headers["content-type"] == "application/json"
    assert req.json == {"user_id": "u", "agent_id": "a1", "session_id": "s", "message": "hi"}


def test_chat_request_path_and_headers() -> None:
    req = DIALECT.chat_request(request(), CREDS)
    assert req.path == "/v3/inference/chat/"
    assert req.headers["accept"] == "application/json"


def test_optional_fields_are_sent_when_set() -> None:
    req = request(
        system_prompt_variables={"name": "Ada"},
        filter_variables={"k": [1]},
        features=[{"type": "memory"}],
        assets=["as1"],
        message="",
        messages=[ChatMessage(role="user", content="hi")],
        tools=[ToolSpec(name="add", description="adds", parameters={"type": "object"})],
        response_format={"type": "json_schema"},
    )
    body = DIALECT.stream_request(req, CREDS).json
    assert body["system_prompt_variables"] == {"name": "Ada"}
    assert body["filter_variables"] == {"k": [1]}
    assert body["assets"] == ["as1"]
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert "message" not in body  # message and messages are alternatives (lyzr-adk)
    assert body["features"][0] == {"type": "memory"}
    assert body["features"][1]["type"] == "local_tools"
    assert body["features"][1]["config"]["tools"][0]["name"] == "add"
    assert body["response_format"] == {"type": "json_schema"}
    json.dumps(body)  # the body must be serialisable as is


# -- stream payload forms --------------------------------------------------------------------
def test_escaped_plain_text_then_done() -> None:
    events = parse(sse("Hello", '\\nworld \\"q\\"', "[DONE]"))
    assert texts(events) == 'Hello\nworld "q"'
    assert isinstance(events[-1], StreamEnd)


def test_json_content_and_delta_and_metadata() -> None:
    events = parse(
        sse(
            '{"content": "a"}',
            '{"delta": "b"}',
            '{"content": "", "metadata": {"message_id": "m1", "artifact_files": []}}',
            "[DONE]",
        )
    )
    assert texts(events) == "ab"
    assert any(isinstance(e, Metadata) for e in events)
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.message_id == "m1"


def test_escaped_json_looking_text_is_text() -> None:
    # An escaped fragment holding JSON source text is invalid JSON, hence text.
    events = parse(sse('{\\"a\\": 1}', "{}", "{1}", "[DONE]"))
    assert texts(events) == '{"a": 1}{}{1}'


@pytest.mark.parametrize("coalesce", [False, True])
@pytest.mark.parametrize(
    "payload", ['{"answer": 4', '{"content": "x', '{"a": 1}}', '{"a":1},{"b":2}', "{{{"]
)
def test_invalid_json_starting_with_a_brace_is_answer_text(payload: str, coalesce: bool) -> None:
    # As every official client shows it: an unescaped fragment that is not JSON is text.
    events = parse(sse("ok ", payload, " end", "[DONE]"), coalesce=coalesce)
    assert texts(events) == f"ok {payload} end"
    assert isinstance(events[-1], StreamEnd)


@pytest.mark.parametrize("coalesce", [False, True])
def test_invalid_json_between_json_text_events_keeps_every_event(coalesce: bool) -> None:
    # The bulk path (one json.loads per read) must not merge or split payloads: a payload that
    # is not one whole object sends the read to the per-event path.
    payloads = ['{"content": "a', '{"}', '{"content":"b"},{"content":"c"}', '{"content": "d"}']
    events = parse(sse(*payloads, "[DONE]"), coalesce=coalesce)
    assert texts(events) == '{"content": "a{"}{"content":"b"},{"content":"c"}d'


def test_valid_json_without_a_text_field_stays_metadata() -> None:
    events = parse(sse("ok", '{"answer": 4}', "[DONE]"))
    assert texts(events) == "ok"
    assert [(e.kind, e.data) for e in events if isinstance(e, Metadata)] == [
        ("unknown", {"answer": 4})
    ]


@pytest.mark.parametrize(
    "deep",
    [
        '{"a":' * 200_000,  # cut: never closed
        '{"a":' + "[" * 200_000 + "]" * 200_000 + "}",  # valid, far too deep
        '{"a":' + '[{"b":' * 100 + "1" + "}]" * 100 + "}",  # valid, just too deep (201 levels)
    ],
)
def test_json_over_the_depth_limit_is_a_typed_error_not_text(deep: str) -> None:
    events = parse(sse("ok", deep, "[DONE]"))
    assert texts(events) == "ok"
    failure = events[-1]
    assert isinstance(failure, StreamFailure)
    assert isinstance(failure.error, APIResponseValidationError)
    assert "deeper than 128" in str(failure.error)


def test_an_error_event_over_the_depth_limit_is_a_typed_error() -> None:
    events = parse(b"data: ok\n\nevent: error\ndata: " + b'{"a":' * 200_000 + b"\n\n")
    assert texts(events) == "ok"
    failure = events[-1]
    assert isinstance(failure, StreamFailure)
    assert isinstance(failure.error, APIResponseValidationError)


def test_error_payload_stops_the_stream() -> None:
    events = parse(sse("Partial", " answer", "[ERROR] Agent crashed midway", "more"))
    assert texts(events) == "Partial answer"
    failure = events[-1]
    assert isinstance(failure, StreamFailure) and isinstance(failure.error, AgentError)
    assert "Agent crashed midway" in str(failure.error)


def test_missing_done_is_an_interruption() -> None:
    events = parse(sse("Partial"))
    assert texts(events) == "Partial"
    failure = events[-1]
    assert isinstance(failure, StreamFailure)
    assert isinstance(failure.error, StreamInterruptedError)


def test_events_after_done_are_ignored() -> None:
    assert texts(parse(sse("a", "[DONE]", "b"))) == "a"


def test_reasoning_split_from_answer_with_tags_across_events() -> None:
    events = parse(sse("<thi", "nk>Let me ", "think.</th", "ink>The answer", " is 42.", "[DONE]"))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert (texts(events), reasoning) == ("The answer is 42.", "Let me think.")


def test_local_tool_call_via_proxy_and_direct() -> None:
    call = {
        "type": "local_tool_call",
        "tool_name": "add",
        "arguments": {"a": 1},
        "messages": [
            {"role": "user", "content": "add"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {
                            "name": "local_tool",
                            "arguments": json.dumps(
                                {"tool_name": "add", "arguments": {"a": 1, "b": 2}}
                            ),
                        },
                    },
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "now", "arguments": ""},
                    },
                ],
            },
        ],
    }
    events = parse(sse(json.dumps(call), "[DONE]"))
    request_event = events[0]
    assert isinstance(request_event, ToolCallRequest)
    assert request_event.calls == (
        ToolCall("c1", "add", {"a": 1, "b": 2}),
        ToolCall("c2", "now", {}),
    )
    assert len(request_event.messages) == 2


def test_local_tool_call_without_messages_uses_top_level_call() -> None:
    events = parse(sse('{"type": "local_tool_call", "tool_name": "t", "arguments": {}}', "[DONE]"))
    request_event = events[0]
    assert isinstance(request_event, ToolCallRequest)
    assert request_event.calls[0].name == "t"


# -- content types and one-shot ----------------------------------------------------------------
def test_parser_choice_by_content_type() -> None:
    assert isinstance(
        DIALECT.stream_parser("text/event-stream; charset=utf-8", max_event_bytes=4096),
        LyzrV3StreamParser,
    )
    assert isinstance(
        DIALECT.stream_parser("application/json", max_event_bytes=4096), JsonBodyParser
    )
    assert isinstance(
        DIALECT.stream_parser("text/html", max_event_bytes=4096), UnexpectedContentParser
    )


def test_html_page_instead_of_stream_is_a_typed_error() -> None:
    parser = DIALECT.stream_parser("text/html", max_event_bytes=4096)
    assert parser.feed(b"<html><body>502 Bad Gateway</body></html>") == []
    [failure] = parser.finish()
    assert isinstance(failure, StreamFailure)
    assert "HTML page" in str(failure.error)
    assert isinstance(failure.error, APIResponseValidationError)
    assert "502 Bad Gateway" in failure.error.body_excerpt


def test_empty_json_body_is_an_interruption() -> None:
    parser = DIALECT.stream_parser("application/json", max_event_bytes=4096)
    [failure] = parser.finish()
    assert isinstance(failure, StreamFailure)
    assert isinstance(failure.error, StreamInterruptedError)


def test_parse_chat_response() -> None:
    body = json.dumps(
        {
            "response": "<think>hm</think>Hello!",
            "message_id": "m9",
            "session_id": "s",
            "metadata": {"x": 1},
            "tool_calls": [],
            "module_outputs": {"artifact_files": [{"name": "r.txt"}]},
        }
    ).encode()
    response = DIALECT.parse_chat(body, request())
    assert response.text == "Hello!"
    assert response.reasoning == "hm"
    assert response.message_id == "m9"
    assert response.session_id == "s"
    assert response.artifacts == ({"name": "r.txt"},)
    assert response.raw is not None and response.raw["metadata"] == {"x": 1}


def test_parse_chat_requires_local_execution() -> None:
    body = json.dumps(
        {
            "response": "",
            "requires_local_execution": True,
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "get", "arguments": '{"k": "v"}'},
                        }
                    ],
                }
            ],
        }
    ).encode()
    response = DIALECT.parse_chat(body, request())
    assert response.tool_calls == (ToolCall("c", "get", {"k": "v"}),)
    assert response.finish_reason == "tool_calls"


def test_parse_chat_invalid_json() -> None:
    with pytest.raises(APIResponseValidationError, match="not valid JSON"):
        DIALECT.parse_chat(b"<html>oops</html>", request())


# -- property: any byte split gives the same events --------------------------------------------
SAMPLE = (
    sse("<thi", "nk>caf\\u00e9 ", "🌍</th", "ink>Grüße", ", 世界", ' \\"q\\" \\\\n', "\\n")
    + b": comment\r\n"
    + b'data: {"content": " json", "metadata": {"message_id": "m"}}\r\n\r\n'
    + sse("[DONE]")
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(SAMPLE)), max_size=15))
def test_any_byte_split_gives_the_same_text_and_reasoning(cuts: list[int]) -> None:
    whole = parse(SAMPLE)
    split = parse(SAMPLE, cuts)
    assert texts(split) == texts(whole) == 'Grüße, 世界 "q" \\n\n json'
    reasoning = "".join(e.text for e in split if isinstance(e, ReasoningDelta))
    assert reasoning == "café 🌍"
    assert split[-1] == whole[-1]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=300), max_size=6))
def test_garbage_never_raises_anything_but_typed_failures(data: bytes, cuts: list[int]) -> None:
    cuts = [c for c in cuts if c <= len(data)]
    events = parse(data, cuts) + parse(data, cuts, coalesce=True)
    for event in events:
        if isinstance(event, StreamFailure):
            assert isinstance(
                event.error, (APIResponseValidationError, AgentError, StreamInterruptedError)
            )


# -- the coalescing fast path gives the same answer as event-by-event parsing -------------------
PLAIN = sse("<thi", "nk>caf\\u00e9 ", "</think>Grüße", ", 世界", ' \\"q\\" \\\\n', "&amp;", "&lt;b")
MIXED = PLAIN + sse('{"content": " json"}', "more") + b": ping\n\n" + sse("tail", "[DONE]")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([PLAIN + sse("[DONE]"), MIXED, PLAIN + sse("[ERROR] boom")]),
    st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_coalescing_fast_path_matches_event_by_event(data: bytes, cuts: list[int]) -> None:
    cuts = [c for c in cuts if c <= len(data)]
    slow = parse(data, cuts)
    fast = parse(data, cuts, coalesce=True)
    assert texts(fast) == texts(slow)
    thinking = [e.text for e in fast if isinstance(e, ReasoningDelta)]
    assert "".join(thinking) == "".join(e.text for e in slow if isinstance(e, ReasoningDelta))
    assert type(fast[-1]) is type(slow[-1])


def test_fast_path_merges_a_read_into_one_delta() -> None:
    events = parse(sse("a", " b", " c") + sse("[DONE]"), [len(sse("a", " b", " c"))], coalesce=True)
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("a b c")]
    assert isinstance(events[-1], StreamEnd)


def _event_by_event(data: bytes) -> list[object]:
    """The reference: the general per-event path, no bulk fast path."""
    parser = LyzrV3StreamParser(1 << 20)
    return parser._handle(parser._sse.feed(data)) + parser.finish()


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([PLAIN + sse("[DONE]"), MIXED, PLAIN + sse("[ERROR] boom")]),
    st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_without_coalescing_every_event_stays_its_own_delta(data: bytes, cuts: list[int]) -> None:
    cuts = [c for c in cuts if c <= len(data)]
    split = parse(data, cuts)
    reference = _event_by_event(data)
    assert [e.text for e in split if isinstance(e, TextDelta)] == [
        e.text for e in reference if isinstance(e, TextDelta)
    ]
    assert type(split[-1]) is type(reference[-1])


JSON_FORM = (
    sse(*(json.dumps({"content": t}) for t in ["Grüße", ", 世界", ' "q" ', "123", "data: {x}"]))
    + sse(json.dumps({"delta": " more"}), json.dumps({"content": ""}), "plain 7")
    + sse(json.dumps({"content": "", "metadata": {"message_id": "m1"}}), "[DONE]")
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(JSON_FORM)), max_size=12))
def test_json_events_bulk_path_matches_event_by_event(cuts: list[int]) -> None:
    reference = _event_by_event(JSON_FORM)
    expected = [e.text for e in reference if isinstance(e, TextDelta)]
    assert "".join(expected) == 'Grüße, 世界 "q" 123data: {x} moreplain 7'
    per_event = parse(JSON_FORM, cuts)
    assert [e.text for e in per_event if isinstance(e, TextDelta)] == expected
    merged = parse(JSON_FORM, cuts, coalesce=True)
    assert texts(merged) == "".join(expected)
    for events in (per_event, merged):
        assert isinstance(events[-1], StreamEnd) and events[-1].message_id == "m1"
