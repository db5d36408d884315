"""The Lyzr "local tools" protocol: tool specs out, tool-call requests in, tool rounds back. No I/O.

Agents ask for client-side tools through a proxy function named ``local_tool`` whose arguments
are ``{"tool_name": ..., "arguments": {...}}``; a model that bypasses the proxy names the real
tool directly. A call is taken for the proxy when its function name is ``local_tool`` *or* its
arguments hold a ``tool_name`` key (as lyzr-adk reads it). Both forms come out as the same
:class:`~lyzr_stream._events.ToolCall`.

Sending a round back follows lyzr-adk's tool loop (:func:`tool_round_messages`): the assistant
message goes back with its ``tool_calls`` exactly as the service wrote them (the proxy form), and
each tool result is named ``local_tool`` when its call came through the proxy. A tool that failed
goes back as ``"Error: <message>"`` (:func:`tool_error_content`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import APIResponseValidationError, InvalidRequestError, excerpt
from .._events import ToolCall, ToolCallRequest
from .._json import decode, decode_or_text
from .._request import ChatMessage, ToolSpec

__all__ = [
    "PROXY_TOOL_NAME",
    "is_proxy_call",
    "local_tools_feature",
    "normalize_tool_choice",
    "tool_call_request_from_payload",
    "tool_error_content",
    "tool_round_messages",
    "wire_tool_calls",
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


def normalize_tool_choice(choice: object, names: Sequence[str]) -> str | None:
    """The one rule for ``tool_choice`` in both frameworks.

    ``None`` -> ``None`` (the agent decides); ``"auto"``; ``"any"``, ``"required"`` or ``True``
    -> ``"any"`` (must call one); ``"none"`` or ``False`` -> ``"none"``; a bound tool's name, or
    an OpenAI-style ``{"type": "function", "function": {"name": ...}}`` -> that name.
    """
    if choice is None or choice == "auto":
        return None if choice is None else "auto"
    if choice is True or choice in ("any", "required"):
        return "any"
    if choice is False or choice == "none":
        return "none"
    if isinstance(choice, Mapping):
        function = choice.get("function")
        choice = (function.get("name") if isinstance(function, Mapping) else None) or choice.get(
            "name"
        )
    if isinstance(choice, str) and choice in names:
        return choice
    raise InvalidRequestError(
        f"tool_choice must be 'auto', 'any', 'required', 'none' or one of {list(names)}, "
        f"got {choice!r}"
    )


def wire_tool_calls(
    calls: Sequence[ToolCall], raw: object = None
) -> tuple[dict[str, Any], ...] | None:
    """An assistant message's ``tool_calls`` entries, to send back with the tool results.

    ``raw`` is what the service wrote (kept by the framework message, proxy form included); it
    is resent as is when it still matches the calls. Otherwise (a transcript built by hand, a
    call kept out of several) the calls go in the proxy form, the only function a Lyzr agent's
    model is given for local tools.
    """
    if not calls:
        return None
    if isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) == len(calls):
        entries = [entry for entry in raw if isinstance(entry, Mapping)]
        if [entry.get("id") for entry in entries] == [call.id for call in calls]:
            return tuple(dict(entry) for entry in entries)
    return tuple(
        {
            "id": call.id,
            "type": "function",
            "function": {
                "name": PROXY_TOOL_NAME,
                "arguments": json.dumps(
                    {"tool_name": call.name, "arguments": dict(call.arguments)}
                ),
            },
        }
        for call in calls
    )


def is_proxy_call(entry: Mapping[str, Any]) -> bool:
    """Whether an OpenAI-style ``tool_calls`` entry went through the ``local_tool`` proxy."""
    function = entry.get("function")
    if not isinstance(function, Mapping):
        return False
    if function.get("name") == PROXY_TOOL_NAME:
        return True
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = decode_or_text(arguments, what="tool call arguments")
        except APIResponseValidationError:
            return False
    return isinstance(arguments, Mapping) and "tool_name" in arguments


def tool_error_content(error: object) -> str:
    """What a failed tool sends back, as lyzr-adk does: ``"Error: <message>"``."""
    text = str(error).strip()
    return text if text.startswith("Error:") else f"Error: {text}"


def tool_round_messages(messages: Sequence[ChatMessage]) -> tuple[ChatMessage, ...]:
    """The transcript with each tool result named as lyzr-adk names it.

    A result whose call (found by ``tool_call_id`` in an earlier assistant message) went through
    the proxy is named ``local_tool``; a direct call's result keeps (or gets) the real tool name.
    """
    forms: dict[str, str] = {}
    out: list[ChatMessage] = []
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            for entry in message.tool_calls:
                call_id = entry.get("id")
                if isinstance(call_id, str):
                    function = entry.get("function") or {}
                    forms[call_id] = (
                        PROXY_TOOL_NAME if is_proxy_call(entry) else str(function.get("name", ""))
                    )
        elif message.role == "tool" and message.tool_call_id in forms:
            name = forms[message.tool_call_id] or message.name
            if name != message.name:
                message = message.model_copy(update={"name": name})
        out.append(message)
    return tuple(out)


def _parse_arguments(raw: object, tool: str) -> Mapping[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str):
        value = decode(raw, what=f"the arguments of tool call {tool!r}")
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
    if name == PROXY_TOOL_NAME or "tool_name" in arguments:
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
