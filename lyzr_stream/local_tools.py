"""The Lyzr "local tools" protocol: tool specs out, tool-call requests in. No I/O.

Agents ask for client-side tools through a proxy function named ``local_tool`` whose arguments
are ``{"tool_name": ..., "arguments": {...}}``; a model that bypasses the proxy names the real
tool directly. Both forms come out as the same :class:`~lyzr_stream.events.ToolCall`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import APIResponseValidationError, UnknownToolError, excerpt
from .events import ToolCall, ToolCallRequest
from .request import ToolSpec

__all__ = [
    "PROXY_TOOL_NAME",
    "check_tool_names",
    "local_tools_feature",
    "tool_call_request_from_payload",
]

PROXY_TOOL_NAME = "local_tool"


def local_tools_feature(
    tools: Sequence[ToolSpec], tool_choice: str | None = None
) -> dict[str, Any]:
    """The ``features`` entry that tells the agent which tools the client can run.

    ``tool_choice`` is not part of the documented protocol: it rides in the feature's config
    for agents that honour it (the emulator does) and is harmless to those that do not.
    """
    config: dict[str, Any] = {"tools": [tool.to_wire() for tool in tools]}
    if tool_choice is not None:
        config["tool_choice"] = tool_choice
    return {"type": "local_tools", "config": config, "priority": 0}


def check_tool_names(request: ToolCallRequest, bound: Sequence[ToolSpec]) -> None:
    """Refuse a call for a tool that was not bound (the agent named something unknown)."""
    names = {tool.name for tool in bound}
    for call in request.calls:
        if call.name not in names:
            raise UnknownToolError(
                f"the agent asked for tool {call.name!r}, which was not bound "
                f"(bound: {sorted(names) or 'none'})",
                body_excerpt=call.name,
            )


def _parse_arguments(raw: object, tool: str) -> Mapping[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            raise APIResponseValidationError(
                f"the arguments of tool call {tool!r} are not valid JSON",
                body_excerpt=excerpt(raw),
            ) from None
        if isinstance(value, Mapping):
            return dict(value)
    raise APIResponseValidationError(
        f"the arguments of tool call {tool!r} are not a JSON object", body_excerpt=excerpt(str(raw))
    )


def _call_from_openai(entry: Mapping[str, Any]) -> ToolCall:
    function = entry.get("function") or {}
    name = str(function.get("name") or "")
    call_id = str(entry.get("id") or f"call_{uuid.uuid4().hex[:24]}")
    arguments = _parse_arguments(function.get("arguments"), name)
    if name == PROXY_TOOL_NAME:
        real = arguments.get("tool_name")
        if not isinstance(real, str) or not real:
            raise APIResponseValidationError(
                "a local_tool call did not name the tool to run",
                body_excerpt=excerpt(json.dumps(arguments, default=str)),
            )
        return ToolCall(call_id, real, _parse_arguments(arguments.get("arguments"), real))
    if not name:
        raise APIResponseValidationError("a tool call has no function name")
    return ToolCall(call_id, name, arguments)


def tool_call_request_from_payload(payload: Mapping[str, Any]) -> ToolCallRequest:
    """Build the request from a ``local_tool_call`` event or a ``requires_local_execution`` body.

    The full set of calls is the ``tool_calls`` of the last assistant message in ``messages``;
    the top-level ``tool_name``/``arguments`` (one call only) is the fallback.
    """
    raw_messages = payload.get("messages")
    messages = (
        tuple(m for m in raw_messages if isinstance(m, Mapping))
        if isinstance(raw_messages, list)
        else ()
    )
    for message in reversed(messages):
        if message.get("role") == "assistant" and message.get("tool_calls"):
            calls = tuple(_call_from_openai(entry) for entry in message["tool_calls"])
            raw = tuple(dict(entry) for entry in message["tool_calls"])
            return ToolCallRequest(calls, messages, raw)
    name = payload.get("tool_name")
    if isinstance(name, str) and name:
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        arguments = _parse_arguments(payload.get("arguments"), name)
        raw_call = {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(dict(arguments))},
        }
        return ToolCallRequest((ToolCall(call_id, name, arguments),), messages, (raw_call,))
    raise APIResponseValidationError(
        "the agent asked for local tools but named none",
        body_excerpt=excerpt(json.dumps(payload, default=str)),
    )
