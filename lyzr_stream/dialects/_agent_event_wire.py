"""Sans-I/O: messages of the Lyzr agent events channel in, typed stream events out.

The channel (``wss://metrics.studio.lyzr.ai/ws/{session_id}``) sends JSON objects with an
``event_type``, keep-alive words (``ping``, ``pong``, ``keepalive``) and now and then a
non-JSON line (``[ERROR] ...``). :class:`AgentEventDecoder` turns one message into the events
to deliver:

- ``tool_call_prepare`` -> :class:`ToolActivity` ``"call"``; ``tool_response``,
  ``tool_output`` and ``coroutine_tool_response`` -> :class:`ToolActivity` ``"result"``. The
  tool (or sub-agent) name is ``function_name``, else ``tool_name``, else ``arguments.name``.
- ``thinking`` / ``thinking_log``, and the ``thinking`` field any message may carry ->
  :class:`ReasoningDelta` (each distinct thought once, ending with a newline).
- every other type -> :class:`AgentEvent`.

A message repeating a ``log_id`` already seen is an update of that entry: unchanged, it is
dropped; changed, it is delivered as ``AgentEvent(update=True)`` (or as the tool's result when
it brings the result of a call reported before). Only the latest 4096 entries and thoughts are
remembered (a flood must not grow memory): a repeat of an older one is delivered as new.
Nothing here raises on bad input: the answer must never fail because of this channel. A message
over the JSON limits (nested deeper than ``MAX_DEPTH``, in the message or in a JSON string
field) is dropped and logged at DEBUG with its typed error; strings come out without lone
surrogates (both by :mod:`lyzr_stream._json`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Literal

from .._errors import APIResponseValidationError
from .._events import AgentEvent, ReasoningDelta, ToolActivity
from .._json import NOT_JSON, decode_or_text

__all__ = ["MAX_REMEMBERED", "AgentEventDecoder", "ChannelEvent"]

ChannelEvent = ToolActivity | ReasoningDelta | AgentEvent

logger = logging.getLogger("lyzr_stream")

_KEEPALIVE = frozenset({"ping", "pong", "keepalive", "keep-alive", "heartbeat"})
_CALL_TYPES = frozenset({"tool_call_prepare"})
_RESULT_TYPES = frozenset({"tool_response", "tool_output", "coroutine_tool_response"})
_REASONING_TYPES = frozenset({"thinking", "thinking_log"})
#: How many ``log_id`` entries and thoughts a decoder remembers (the oldest are forgotten).
MAX_REMEMBERED = 4096
_PHASES: dict[str, Literal["call", "result"]] = {
    **dict.fromkeys(_CALL_TYPES, "call"),
    **dict.fromkeys(_RESULT_TYPES, "result"),
}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _maybe_json(value: Any) -> Any:
    """A JSON object or array sent as a string, parsed; anything else as it is."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        parsed = decode_or_text(value, what="an agent event's field")
        return value if parsed is NOT_JSON else parsed
    return value


def _tool_name(payload: Mapping[str, Any]) -> str:
    arguments = payload.get("arguments")
    nested = arguments.get("name") if isinstance(arguments, Mapping) else None
    for candidate in (payload.get("function_name"), payload.get("tool_name"), nested):
        if isinstance(candidate, str) and candidate:
            return candidate
    return _text(payload.get("agent_name")) or "unknown"


def _arguments(payload: Mapping[str, Any]) -> Any:
    arguments = payload.get("arguments")
    if arguments is None:
        arguments = _maybe_json(payload.get("tool_input"))
    return arguments


def _result(payload: Mapping[str, Any]) -> Any:
    for key in ("response", "tool_output", "output", "result"):
        if payload.get(key) is not None:
            return _maybe_json(payload[key])
    return None


def parse_message(message: str | bytes) -> dict[str, Any] | None:
    """The message as a JSON object, or None for keep-alives, non-JSON lines and other data;
    over the JSON limits: :class:`APIResponseValidationError`."""
    if isinstance(message, bytes):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError:
            return None
    text = message.strip()
    if not text.startswith("{"):
        return None  # "ping", "[ERROR] ...", anything that is not an object
    payload = decode_or_text(text, what="an agent event")
    if not isinstance(payload, dict):
        return None
    kind = payload.get("event_type", payload.get("type"))
    if isinstance(kind, str) and kind.lower() in _KEEPALIVE:
        return None
    return payload


def _forget_oldest(remembered: OrderedDict[str, Any]) -> None:
    # OrderedDict: dropping the first key of a plain dict gets slower the more were dropped.
    if len(remembered) > MAX_REMEMBERED:
        remembered.popitem(last=False)


class _Entry:
    """What was delivered for one ``log_id``: the last payload, and the tool phases reported."""

    __slots__ = ("payload", "phases")

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.payload = payload
        self.phases: set[str] = set()


class AgentEventDecoder:
    """One stream's decoder (it remembers ``log_id`` entries and thoughts already delivered)."""

    __slots__ = ("_entries", "_thoughts")

    def __init__(self) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._thoughts: OrderedDict[str, None] = OrderedDict()

    def decode(self, message: str | bytes) -> list[ChannelEvent]:
        """The events one message brings (often none; none for a message over the JSON
        limits, which is logged)."""
        try:
            payload = parse_message(message)
            return [] if payload is None else self.map(payload)
        except APIResponseValidationError as exc:
            logger.debug("lyzr_stream: an agent event was dropped (%s)", exc)
            return []

    def map(self, payload: Mapping[str, Any]) -> list[ChannelEvent]:
        """The events of one decoded message."""
        kind = payload.get("event_type", payload.get("type"))
        event_type = kind if isinstance(kind, str) and kind else "unknown"
        raw_log_id = payload.get("log_id")
        log_id = str(raw_log_id) if isinstance(raw_log_id, (str, int)) and raw_log_id else None
        entry = self._entries.get(log_id) if log_id is not None else None
        if entry is not None and entry.payload == payload:
            return []  # the same entry sent again: nothing new
        update = entry is not None
        if log_id is not None:
            if entry is None:
                entry = self._entries[log_id] = _Entry(payload)
                _forget_oldest(self._entries)
            entry.payload = payload

        out: list[ChannelEvent] = []
        thought = _text(payload.get("thinking"))
        if thought is None and event_type in _REASONING_TYPES:
            thought = _text(payload.get("message"))
        if thought is not None and thought not in self._thoughts:
            self._thoughts[thought] = None
            _forget_oldest(self._thoughts)
            out.append(ReasoningDelta(thought if thought.endswith("\n") else thought + "\n"))
        if event_type in _REASONING_TYPES:
            return out

        phase = _PHASES.get(event_type)
        if phase is not None and (entry is None or phase not in entry.phases):
            if entry is not None:
                entry.phases.add(phase)
            result = _result(payload) if phase == "result" else None
            name, arguments = _tool_name(payload), _arguments(payload)
            out.append(ToolActivity(phase, name, arguments=arguments, result=result, raw=payload))
            return out
        out.append(
            AgentEvent(
                type=event_type,
                level=_text(payload.get("level")),
                status=_text(payload.get("status")),
                message=_text(payload.get("message")),
                raw=payload,
                log_id=log_id,
                update=update,
            )
        )
        return out
