"""Normalized stream events: what every dialect's bytes turn into.

A dialect parser turns response bytes into a list of these; the I/O shell hands them to the
caller; the framework adapters turn each into one LangChain chunk or one LlamaIndex response.
They are frozen, slotted dataclasses: cheap to build (one per token) and safe to share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AgentEvent",
    "Metadata",
    "ReasoningDelta",
    "StreamEnd",
    "StreamEvent",
    "TextDelta",
    "ToolActivity",
    "ToolCall",
    "ToolCallRequest",
]


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """One message of the agent's events channel that is neither a tool call nor reasoning.

    ``type`` is the service's ``event_type`` (``process_start``, ``kb_documents_retrieved``,
    ``artifact_create_success``, ...); ``level`` (``INFO``, ``ERROR``, ...), ``status``
    (``in_progress``, ``completed``, ...) and ``message`` are the service's fields when it sent
    them, and ``raw`` the whole message. ``update`` is True when the service re-sent an entry it
    had already reported (same ``log_id``) with changes: the event replaces the earlier one, it
    is not a second occurrence.
    """

    type: str
    level: str | None = None
    status: str | None = None
    message: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    log_id: str | None = None
    update: bool = False


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer text."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the agent's reasoning (``<think>...</think>``), kept apart from the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the agent asks the client to run. ``arguments`` is already parsed."""

    id: str
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """The agent asks the client to run local tools, then to send their results back.

    ``messages`` is the conversation as the service sees it (OpenAI format), when it sent one.
    ``raw_calls`` are the ``tool_calls`` entries exactly as the service wrote them (proxy form
    included): the next round sends them back unchanged in the assistant message.
    """

    calls: tuple[ToolCall, ...]
    messages: tuple[Mapping[str, Any], ...] = ()
    raw_calls: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class ToolActivity:
    """A tool the *server* ran (or is running): reported for watching, never run by the client.

    ``phase`` is ``"call"`` (with ``arguments``) or ``"result"`` (with ``result``).
    """

    phase: Literal["call", "result"]
    name: str
    arguments: Any = None
    result: Any = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Metadata:
    """Anything else the service reported (message ids, titles, suggestions, unknown events).

    ``kind`` says where it came from (for example ``"metadata"``, ``"start"``, or the unknown
    event type; ``"unknown"`` for a JSON event with neither a type nor a known key); ``data``
    holds it whole. Kind ``"artifacts"`` carries the entries of an ``<artifacts>`` block cut
    out of the answer text, under ``artifact_files`` as the service's own metadata has them.
    """

    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The service said the answer is complete. Always the last event of a good stream."""

    message_id: str | None = None
    finish_reason: str = "stop"
    metadata: Mapping[str, Any] = field(default_factory=dict)


StreamEvent = (
    TextDelta | ReasoningDelta | ToolCallRequest | ToolActivity | Metadata | StreamEnd | AgentEvent
)
