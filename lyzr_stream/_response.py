"""The complete answer of one agent turn, however it was obtained (one-shot or streamed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._events import (
    Metadata,
    ReasoningDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolActivity,
    ToolCall,
    ToolCallRequest,
)

__all__ = ["AgentResponse", "ResponseBuilder"]

#: Metadata kinds merged into ``AgentResponse.metadata`` (and their artifacts collected).
_MERGED_KINDS = frozenset({"metadata", "artifacts"})


@dataclass(frozen=True, slots=True)
class AgentResponse:
    """What an agent answered.

    ``raw`` is the service's JSON for a one-shot call, or ``None`` when the response was
    assembled from a stream. ``tool_calls`` is non-empty when the agent asks the client to run
    local tools (``raw_tool_calls`` as the service wrote them, to send back with the results);
    ``tool_activity`` lists tools the server ran.

    ``artifacts`` gathers what the service reported as ``artifact_files`` (one-shot
    ``module_outputs``, stream metadata) and the ``<artifacts>`` blocks cut out of the text,
    each artifact once even when the service repeats it in its final metadata. ``metadata``
    is the service's metadata merged; events of another kind (a stream's ``start``, an unknown
    event type) are listed in order under ``metadata["stream_events"]`` as ``{"kind", "data"}``.
    """

    text: str
    agent_id: str
    session_id: str
    user_id: str
    message_id: str | None = None
    reasoning: str = ""
    finish_reason: str = "stop"
    artifacts: tuple[Mapping[str, Any], ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    raw_tool_calls: tuple[Mapping[str, Any], ...] = ()
    tool_messages: tuple[Mapping[str, Any], ...] = ()
    tool_activity: tuple[ToolActivity, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] | None = None


class ResponseBuilder:
    """Accumulates stream events into an :class:`AgentResponse` in linear time."""

    __slots__ = (
        "_activity",
        "_artifacts",
        "_calls",
        "_events",
        "_messages",
        "_metadata",
        "_raw_calls",
        "_reasoning",
        "finish_reason",
        "message_id",
        "texts",
    )

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[ToolCall] = []
        self._messages: tuple[Mapping[str, Any], ...] = ()
        self._raw_calls: list[Mapping[str, Any]] = []
        self._activity: list[ToolActivity] = []
        self._metadata: dict[str, Any] = {}
        self._artifacts: list[Mapping[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self.message_id: str | None = None
        self.finish_reason = "stop"

    def add(self, event: StreamEvent) -> None:
        if isinstance(event, TextDelta):
            self.texts.append(event.text)
        elif isinstance(event, ReasoningDelta):
            self._reasoning.append(event.text)
        elif isinstance(event, ToolCallRequest):
            self._calls.extend(event.calls)
            self._raw_calls.extend(event.raw_calls)
            self._messages = event.messages
            self.finish_reason = "tool_calls"
        elif isinstance(event, ToolActivity):
            self._activity.append(event)
        elif isinstance(event, Metadata):
            if event.kind in _MERGED_KINDS:
                self._add_metadata(event.data)
            else:
                self._events.append({"kind": event.kind, "data": dict(event.data)})
        elif isinstance(event, StreamEnd):
            self.message_id = event.message_id or self.message_id
            self._add_metadata(event.metadata)
            if not self._calls:
                self.finish_reason = event.finish_reason

    def _add_metadata(self, data: Mapping[str, Any]) -> None:
        for key, value in data.items():
            if key == "artifact_files" and isinstance(value, list):
                # The v3 stream repeats its metadata's artifacts in the final event: keep one.
                for artifact in value:
                    if isinstance(artifact, Mapping) and artifact not in self._artifacts:
                        self._artifacts.append(artifact)
            elif key == "message_id" and isinstance(value, str):
                self.message_id = value
            else:
                self._metadata[key] = value

    def build(self, *, agent_id: str, session_id: str, user_id: str) -> AgentResponse:
        return AgentResponse(
            text="".join(self.texts),
            agent_id=agent_id,
            session_id=session_id,
            user_id=user_id,
            message_id=self.message_id,
            reasoning="".join(self._reasoning),
            finish_reason=self.finish_reason,
            artifacts=tuple(self._artifacts),
            tool_calls=tuple(self._calls),
            raw_tool_calls=tuple(self._raw_calls),
            tool_messages=self._messages,
            tool_activity=tuple(self._activity),
            metadata=(
                {**self._metadata, "stream_events": list(self._events)}
                if self._events
                else dict(self._metadata)
            ),
        )
