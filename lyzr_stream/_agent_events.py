"""``AgentEvent``: progress the agent reports on its events channel (Lyzr v3, opt-in).

A Lyzr agent publishes what it does on the server (memory lookups, LLM calls, sub-agents,
artifacts, errors) on a WebSocket per session while the answer streams. With
``agent_events=True`` those messages join the stream of answer events: tool calls and results
as :class:`~lyzr_stream.ToolActivity`, reasoning as :class:`~lyzr_stream.ReasoningDelta`, and
everything else as an :class:`AgentEvent`.

This module holds only the type (the stream's event union includes it); the mapping from
messages to events is :mod:`lyzr_stream._agent_event_wire`, the socket
:mod:`lyzr_stream._events_channel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AgentEvent"]


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
