"""The v3 dialect on bytes, for the forms the official clients accept (docs/wire.md, "What the
official clients do"): tags anywhere, artifacts blocks, \\&, unknown JSON events, one-shot
server tool calls, content types, and the odd text of hostile servers (issue 19, item 9)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lyzr_stream import AgentRequest
from lyzr_stream._errors import AgentError, APIResponseValidationError, StreamInterruptedError
from lyzr_stream._events import Metadata, ReasoningDelta, StreamEnd, ToolActivity
from lyzr_stream._response import AgentResponse, ResponseBuilder
from lyzr_stream.dialects._base import StreamFailure
from lyzr_stream.dialects._lyzr_v3 import LyzrV3Dialect
from lyzr_stream.dialects._parsers import JsonBodyParser, UnexpectedContentParser
from tests.helpers.wire import parse, sse, texts

DIALECT = LyzrV3Dialect()
FILES = [{"name": "r.pdf", "file_url": "https://x.invalid/r.pdf", "format_type": "pdf"}]


def build(events: list[Any]) -> AgentResponse:
    builder = ResponseBuilder()
    for event in events:
        if not isinstance(event, StreamFailure):
            builder.add(event)
    return builder.build(agent_id="a", session_id="s", user_id="u")


def reasoning(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def request() -> AgentRequest:
    return AgentRequest(agent_id="a1", message="hi", user_id="u", session_id="s")


# -- 1. unescaping -------------------------------------------------------------------------------
def test_backslash_ampersand_in_a_stream() -> None:
    assert texts(parse(sse("Tom \\& Jerry", " \\&amp; co", "[DONE]"))) == "Tom & Jerry &amp; co"


# -- 2. <think> anywhere ------------------------------------------------------------------------
@pytest.mark.parametrize("coalesce", [False, True])
def test_think_block_in_the_middle_of_a_text_stream(coalesce: bool) -> None:
    data = sse("Part one.", " <thi", "nk>checking", " more</thin", "k> Part two.", "[DONE]")
    events = parse(data, coalesce=coalesce)
    assert texts(events) == "Part one.  Part two."
    assert reasoning(events) == "checking more"
    assert isinstance(events[-1], StreamEnd)


@pytest.mark.parametrize("coalesce", [False, True])
def test_think_block_in_the_middle_of_a_json_stream(coalesce: bool) -> None:
    pieces = ["Part one.", " <think>check", "ing</think>", " Part two."]
    data = sse(*(json.dumps({"content": p}) for p in pieces), "[DONE]")
    events = parse(data, coalesce=coalesce)
    assert (texts(events), reasoning(events)) == ("Part one.  Part two.", "checking")


def test_think_tag_escaped_as_html_entities_and_json_unicode() -> None:
    html = sse("A &lt;think&gt;r&lt;/think&gt;B", "[DONE]")
    assert (texts(parse(html)), reasoning(parse(html))) == ("A B", "r")
    escaped_json = sse('{"content": "A \\u003cthink\\u003er\\u003c/think\\u003eB"}', "[DONE]")
    for coalesce in (False, True):
        events = parse(escaped_json, coalesce=coalesce)
        assert (texts(events), reasoning(events)) == ("A B", "r")


# -- 3. <artifacts> -----------------------------------------------------------------------------
@pytest.mark.parametrize("coalesce", [False, True])
def test_artifacts_block_mid_answer_in_text_form(coalesce: bool) -> None:
    block = f"<artifacts>{json.dumps(FILES)}</artifacts>"
    escaped = block.replace('"', '\\"')
    parts = [escaped[:9], escaped[9:40], escaped[40:]]
    data = sse("Here is the report:\\n", *parts, " Done.", "[DONE]")
    events = parse(data, coalesce=coalesce)
    assert texts(events) == "Here is the report:\n Done."
    assert "<artifacts" not in texts(events)
    assert build(events).artifacts == tuple(FILES)


@pytest.mark.parametrize("coalesce", [False, True])
def test_artifacts_block_in_json_form(coalesce: bool) -> None:
    block = f"<artifacts>{json.dumps(FILES[0])}</artifacts>"
    data = sse(*(json.dumps({"content": p}) for p in ["See ", block[:20], block[20:], "."]))
    events = parse(data + sse("[DONE]"), coalesce=coalesce)
    assert texts(events) == "See ."
    assert build(events).artifacts == tuple(FILES)


def test_artifacts_block_that_is_not_json_is_one_content_artifact() -> None:
    events = parse(sse("a<artifacts>just a note</artifacts>b", "[DONE]"))
    assert texts(events) == "ab"
    assert build(events).artifacts == ({"content": "just a note"},)


# -- 4./5. headers and content types --------------------------------------------------------------
def test_both_routes_accept_json_like_the_official_clients() -> None:
    from lyzr_stream.dialects._base import Credentials

    for http in (
        DIALECT.stream_request(request(), Credentials()),
        DIALECT.chat_request(request(), Credentials()),
    ):
        assert http.headers["accept"] == "application/json"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain; charset=utf-8", "application/octet-stream", "", "text/x-foo"],
)
def test_a_200_stream_is_sse_whatever_its_content_type(content_type: str) -> None:
    parser = DIALECT.stream_parser(content_type, max_event_bytes=4096)
    events = parser.feed(sse("Hel", "lo", "[DONE]")) + parser.finish()
    assert texts(events) == "Hello"
    assert isinstance(events[-1], StreamEnd)


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"<!DOCTYPE html><html><body>Bad gateway</body></html>", "an HTML page"),
        (b"Hello, plain words", "an unexpected body"),
    ],
)
def test_a_mislabelled_body_without_any_event_names_its_content_type(
    body: bytes, what: str
) -> None:
    parser = DIALECT.stream_parser("text/plain", max_event_bytes=4096)
    [failure] = parser.feed(body[:10]) + parser.feed(body[10:]) + parser.finish()
    assert isinstance(failure, StreamFailure)
    assert isinstance(failure.error, APIResponseValidationError)
    assert what in str(failure.error) and "'text/plain'" in str(failure.error)
    assert body[:12].decode() in failure.error.body_excerpt


def test_a_mislabelled_stream_cut_after_some_events_is_still_an_interruption() -> None:
    parser = DIALECT.stream_parser("text/plain", max_event_bytes=4096)
    events = parser.feed(sse("partial")) + parser.finish()
    assert texts(events) == "partial"
    assert isinstance(events[-1].error, StreamInterruptedError)


@pytest.mark.parametrize("content_type", ["application/json", "application/problem+json"])
def test_json_content_is_one_whole_answer(content_type: str) -> None:
    parser = DIALECT.stream_parser(content_type, max_event_bytes=4096)
    assert isinstance(parser, JsonBodyParser)
    events = parser.feed(json.dumps({"response": "whole"}).encode()) + parser.finish()
    assert texts(events) == "whole"


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/xhtml+xml"])
def test_html_content_is_still_the_typed_error(content_type: str) -> None:
    assert isinstance(
        DIALECT.stream_parser(content_type, max_event_bytes=4096), UnexpectedContentParser
    )


# -- 6. [ERROR] ---------------------------------------------------------------------------------
def test_error_message_has_no_leading_space() -> None:
    failure = parse(sse("x", "[ERROR] Credits exhausted"))[-1]
    assert isinstance(failure, StreamFailure) and isinstance(failure.error, AgentError)
    assert failure.error.message == "agent error: Credits exhausted"
    failure = parse(sse("[ERROR]"))[-1]
    assert failure.error.message == "agent error: the agent reported an error without a message"


# -- 7. unknown JSON events ---------------------------------------------------------------------
def test_unknown_json_events_are_metadata_never_text() -> None:
    data = sse(
        '{"type": "progress", "step": 1}',
        "Hello",
        '{"some": "thing"}',
        '{"type": 7}',
        '{"type": "metadata", "title": "T"}',
        '{"type": "thinking", "content": " world"}',
        "[DONE]",
    )
    events = parse(data)
    assert texts(events) == "Hello world"
    metadata = [(e.kind, dict(e.data)) for e in events if isinstance(e, Metadata)]
    assert metadata == [
        ("progress", {"type": "progress", "step": 1}),
        ("unknown", {"some": "thing"}),
        ("unknown", {"type": 7}),
        ("metadata", {"title": "T"}),
    ]
    response = build(events)
    assert response.metadata["title"] == "T"
    assert response.metadata["stream_events"] == [
        {"kind": "progress", "data": {"type": "progress", "step": 1}},
        {"kind": "unknown", "data": {"some": "thing"}},
        {"kind": "unknown", "data": {"type": 7}},
    ]
    end = events[-1]
    assert isinstance(end, StreamEnd) and "step" not in end.metadata


def test_unknown_type_with_metadata_keeps_both() -> None:
    events = parse(sse('{"type": "final", "metadata": {"message_id": "m1"}}', "[DONE]"))
    kinds = [e.kind for e in events if isinstance(e, Metadata)]
    assert kinds == ["final", "metadata"]
    assert events[-1].message_id == "m1"


def test_error_typed_json_event_fails_the_stream() -> None:
    failure = parse(sse("a", '{"type": "error", "message": "quota"}'))[-1]
    assert isinstance(failure, StreamFailure) and isinstance(failure.error, AgentError)
    assert failure.error.message == "agent error: quota"


def test_any_non_empty_json_object_is_json() -> None:
    # Keys need bare quotes, which escaped text never holds, whatever the spacing.
    events = parse(sse('{ "foo": 1 }', '{ "content": "x" }', "[DONE]"))
    assert [(e.kind, dict(e.data)) for e in events if isinstance(e, Metadata)] == [
        ("unknown", {"foo": 1})
    ]
    assert texts(events) == "x"


def test_text_that_only_looks_like_json_stays_text() -> None:
    assert texts(parse(sse("{}", "{1}", '{\\"a\\": 1}', "[DONE]"))) == '{}{1}{"a": 1}'


# -- 8. one-shot tool_calls (tools the server ran) ------------------------------------------------
def test_one_shot_tool_calls_are_server_tool_activity() -> None:
    body = {
        "response": "It is sunny.",
        "message_id": "m",
        "tool_calls": [
            {
                "id": "t1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
            },
            {"name": "search", "arguments": {"q": "x"}, "result": {"hits": 2}},
            "not an object",
        ],
    }
    response = DIALECT.parse_chat(json.dumps(body).encode(), request())
    activity = [(a.phase, a.name, a.arguments, a.result) for a in response.tool_activity]
    assert activity == [
        ("call", "weather", {"city": "Paris"}, None),
        ("call", "search", {"q": "x"}, None),
        ("result", "search", None, {"hits": 2}),
    ]
    assert all(isinstance(a, ToolActivity) for a in response.tool_activity)
    assert response.tool_calls == ()
    assert response.finish_reason == "stop"


def test_one_shot_response_with_tags_and_artifacts() -> None:
    body = {
        "response": "A<think>r</think>B<artifacts>[{\"name\": \"x\"}]</artifacts>C",
        "module_outputs": {"artifact_files": FILES},
    }
    response = DIALECT.parse_chat(json.dumps(body).encode(), request())
    assert (response.text, response.reasoning) == ("ABC", "r")
    assert response.artifacts == ({"name": "x"}, *FILES)


# -- 9. artifacts once ----------------------------------------------------------------------------
@pytest.mark.parametrize("coalesce", [False, True])
def test_json_stream_artifacts_appear_once(coalesce: bool) -> None:
    final = {"content": "", "metadata": {"message_id": "m", "artifact_files": FILES}}
    events = parse(sse('{"content": "hi"}', json.dumps(final), "[DONE]"), coalesce=coalesce)
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.metadata["artifact_files"] == FILES
    assert build(events).artifacts == tuple(FILES)


# -- 10. odd text ---------------------------------------------------------------------------------
@pytest.mark.parametrize("coalesce", [False, True])
def test_lone_surrogate_from_json_becomes_replacement_character(coalesce: bool) -> None:
    data = sse('{"content": "a\\ud83d"}', '{"content": "\\ude00b"}', '{"delta": "\\udfff"}')
    events = parse(data + sse('{"content": "x", "metadata": {}}', "[DONE]"), coalesce=coalesce)
    text = texts(events)
    assert text == "a\ufffd\ufffdb\ufffdx"
    text.encode("utf-8")


@pytest.mark.parametrize("coalesce", [False, True])
def test_surrogate_pair_escapes_split_across_text_events(coalesce: bool) -> None:
    data = sse("smile \\uD83D", "\\uDE00!", "[DONE]")
    for cuts in ([], [len(sse("smile \\uD83D"))]):
        assert texts(parse(data, cuts, coalesce=coalesce)) == "smile 😀!"


@pytest.mark.parametrize("coalesce", [False, True])
def test_escape_cut_between_text_events(coalesce: bool) -> None:
    data = sse("caf\\u00", "e9", " ok", "[DONE]")
    for cuts in ([], [len(sse("caf\\u00"))]):
        assert texts(parse(data, cuts, coalesce=coalesce)) == "café ok"


def test_unfinished_escape_at_the_end_is_released_literally() -> None:
    assert texts(parse(sse("end \\u00", "[DONE]"))) == "end \\u00"
    failure = parse(sse("cut \\u0"))
    assert texts(failure) == "cut \\u0"
    assert isinstance(failure[-1], StreamFailure)


@pytest.mark.parametrize("split_at", [0, 1, 2, 3, 5])
def test_leading_bom_does_not_drop_the_first_event(split_at: int) -> None:
    data = b"\xef\xbb\xbf" + sse("first", " second", "[DONE]")
    assert texts(parse(data, [split_at])) == "first second"


@pytest.mark.parametrize("marker", ["[DONE] ", "[DONE]\t", "[DONE]  "])
def test_done_with_trailing_whitespace_ends_the_stream(marker: str) -> None:
    events = parse(sse("a", marker, "after"))
    assert texts(events) == "a"
    assert isinstance(events[-1], StreamEnd)


def test_sse_error_event_is_an_agent_error() -> None:
    data = sse("partial") + b"event: error\ndata: model overloaded\n\n" + sse("more", "[DONE]")
    events = parse(data)
    assert texts(events) == "partial"
    failure = events[-1]
    assert isinstance(failure, StreamFailure) and isinstance(failure.error, AgentError)
    assert failure.error.message == "agent error: model overloaded"
    json_error = b'event: error\ndata: {"message": "quota"}\n\n'
    assert parse(json_error)[-1].error.message == "agent error: quota"


# -- property: every form at once, any byte split, both modes --------------------------------------
def _everything() -> bytes:
    block = f"<artifacts>{json.dumps(FILES)}</artifacts>".replace('"', '\\"')
    return (
        b"\xef\xbb\xbf"
        + sse("  <thi", "nk>plan \\u00", "e9</think>\\n", "Intro \\& \\uD83D", "\\uDE00 ")
        + sse(block[:15], block[15:], json.dumps({"content": " mid<think>more</think>"}))
        + sse('{"type": "progress", "n": 1}', json.dumps({"content": " end", "metadata": {}}))
        + sse("[DONE] ")
    )


EVERYTHING = _everything()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=len(EVERYTHING)), max_size=15),
    st.booleans(),
)
def test_any_byte_split_gives_the_same_answer(cuts: list[int], coalesce: bool) -> None:
    events = parse(EVERYTHING, cuts, coalesce=coalesce)
    assert texts(events) == "Intro & 😀  mid end"
    assert reasoning(events) == "plan émore"
    response = build(events)
    assert response.artifacts == tuple(FILES)
    assert response.metadata["stream_events"] == [
        {"kind": "progress", "data": {"type": "progress", "n": 1}}
    ]
    assert isinstance(events[-1], StreamEnd)
