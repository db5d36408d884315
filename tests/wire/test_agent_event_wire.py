"""Sans-I/O: Lyzr agent events channel messages -> typed events (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lyzr_stream import AgentEvent, ReasoningDelta, ToolActivity
from lyzr_stream.dialects._agent_event_wire import (
    MAX_REMEMBERED,
    AgentEventDecoder,
    parse_message,
)

# Recorded shapes, as the Studio web client and lyzr-kit read them.
TOOL_CALL = {
    "event_type": "tool_call_prepare",
    "timestamp": "2026-11-29T10:00:00.123456+00:00",
    "level": "INFO",
    "status": "in_progress",
    "message": "Preparing tool call",
    "feature": "tool_calling",
    "run_id": "run-1",
    "trace_id": "t1",
    "log_id": "log-1",
    "session_id": "agent-s1",
    "agent_id": "agent",
    "user_id": "u@example.com",
    "function_name": "perplexity_search",
    "arguments": {"query": "lyzr"},
}
TOOL_RESPONSE = {
    **TOOL_CALL,
    "event_type": "tool_response",
    "status": "completed",
    "log_id": "log-2",
    "response": '{"results": [1, 2]}',
}
SUB_AGENT_CALL = {
    "event_type": "tool_call_prepare",
    "log_id": "log-3",
    "arguments": {"name": "Researcher", "message": "Summarise"},
}


def decode(*messages: Any) -> list[Any]:
    decoder = AgentEventDecoder()
    out: list[Any] = []
    for message in messages:
        text = message if isinstance(message, (str, bytes)) else json.dumps(message)
        out.extend(decoder.decode(text))
    return out


def test_tool_call_and_result_become_tool_activity() -> None:
    call, result = decode(TOOL_CALL, TOOL_RESPONSE)
    assert call == ToolActivity("call", "perplexity_search", {"query": "lyzr"}, raw=TOOL_CALL)
    assert isinstance(result, ToolActivity)
    assert (result.phase, result.name) == ("result", "perplexity_search")
    assert result.result == {"results": [1, 2]}  # a JSON string is parsed


@pytest.mark.parametrize(
    ("payload", "name", "arguments"),
    [
        (SUB_AGENT_CALL, "Researcher", {"name": "Researcher", "message": "Summarise"}),
        (
            {"event_type": "tool_call_prepare", "tool_name": "kb", "tool_input": '{"q": 1}'},
            "kb",
            {"q": 1},
        ),
        ({"event_type": "tool_call_prepare"}, "unknown", None),
    ],
)
def test_tool_name_sources(payload: dict[str, Any], name: str, arguments: Any) -> None:
    (event,) = decode(payload)
    assert isinstance(event, ToolActivity)
    assert (event.name, event.arguments) == (name, arguments)


@pytest.mark.parametrize(
    ("payload", "result"),
    [
        ({"event_type": "tool_output", "tool_name": "kb", "tool_output": "2 docs"}, "2 docs"),
        ({"event_type": "coroutine_tool_response", "function_name": "f", "response": {"a": 1}},
         {"a": 1}),
        ({"event_type": "tool_response", "function_name": "f", "response": "{not json"},
         "{not json"),
    ],
)
def test_results(payload: dict[str, Any], result: Any) -> None:
    (event,) = decode(payload)
    assert isinstance(event, ToolActivity)
    assert (event.phase, event.result) == ("result", result)


def test_keepalives_and_non_json_lines_are_skipped() -> None:
    assert decode(
        "ping",
        "pong",
        "keepalive",
        "[ERROR] cannot access local variable 'x' where it is not associated with a value",
        {"event_type": "keepalive"},
        {"type": "ping"},
        "{truncated",
        "[1, 2]",
        "null",
        b"\xff\xfe garbage",
        "",
    ) == []


def test_other_types_become_agent_events() -> None:
    payload = {
        "event_type": "kb_documents_retrieved",
        "level": "INFO",
        "status": "completed",
        "message": "Retrieved 2 documents",
        "log_id": 7,
        "data": {"documents": ["a", "b"]},
    }
    (event,) = decode(payload)
    assert event == AgentEvent(
        "kb_documents_retrieved", "INFO", "completed", "Retrieved 2 documents", payload, "7"
    )
    (unknown,) = decode({"message": "no type at all", "level": 3})
    assert isinstance(unknown, AgentEvent)
    assert (unknown.type, unknown.level) == ("unknown", None)


def test_thinking_becomes_reasoning_once() -> None:
    events = decode(
        {"event_type": "thinking", "thinking": "Search first."},
        {"event_type": "thinking_log", "message": "Then answer"},
        {**SUB_AGENT_CALL, "thinking": "Search first."},  # the same thought again: not repeated
    )
    assert events[:2] == [ReasoningDelta("Search first.\n"), ReasoningDelta("Then answer\n")]
    assert isinstance(events[2], ToolActivity)
    assert len(events) == 3


def test_a_thought_on_any_event_comes_before_it() -> None:
    reasoning, call = decode({**SUB_AGENT_CALL, "thinking": "Delegate.\n"})
    assert reasoning == ReasoningDelta("Delegate.\n")
    assert isinstance(call, ToolActivity)


def test_log_id_repeats_are_updates_not_duplicates() -> None:
    start = {"event_type": "process_start", "status": "in_progress", "log_id": "p1"}
    done = {**start, "status": "completed"}
    events = decode(start, start, done, done)
    assert [(e.status, e.update) for e in events] == [("in_progress", False), ("completed", True)]


def test_a_flood_of_entries_and_thoughts_is_remembered_within_a_bound() -> None:
    decoder = AgentEventDecoder()
    first = {"event_type": "step", "log_id": "e0", "thinking": "thought 0"}
    decoder.decode(json.dumps(first))
    for i in range(1, MAX_REMEMBERED + 1):  # one more entry and thought than remembered
        decoder.decode(json.dumps({"event_type": "step", "log_id": f"e{i}", "thinking": f"t{i}"}))
    recent = {"event_type": "step", "log_id": f"e{MAX_REMEMBERED}", "status": "done"}
    assert [e.update for e in decoder.decode(json.dumps(recent))] == [True]
    # The oldest was forgotten: its repeat is new again (its thought too), never a crash.
    again = decoder.decode(json.dumps({**first, "status": "done"}))
    assert [type(e).__name__ for e in again] == ["ReasoningDelta", "AgentEvent"]
    assert again[1].update is False


def test_a_tool_entry_updated_with_its_result() -> None:
    call = {"event_type": "tool_call_prepare", "function_name": "f", "log_id": "x"}
    again = {**call, "status": "in_progress"}
    result = {**call, "event_type": "tool_response", "response": "ok"}
    events = decode(call, again, result, {**result, "status": "completed"})
    assert [type(e).__name__ for e in events] == [
        "ToolActivity",
        "AgentEvent",
        "ToolActivity",
        "AgentEvent",
    ]
    assert [getattr(e, "update", None) for e in events] == [None, True, None, True]
    assert events[2].phase == "result"


def test_decoders_are_per_stream() -> None:
    assert len(decode(TOOL_CALL)) == len(decode(TOOL_CALL)) == 1


def test_parse_message_accepts_bytes() -> None:
    assert parse_message(json.dumps(TOOL_CALL).encode()) == TOOL_CALL
    assert parse_message(b"  ping ") is None
