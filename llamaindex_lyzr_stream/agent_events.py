"""``LyzrAgentEvent``: the agent's progress (Lyzr events channel) on the instrumentation bus.

With ``agent_events=True`` a streaming ``LyzrLLM`` dispatches one of these per
:class:`lyzr_stream.AgentEvent` on the LlamaIndex instrumentation dispatcher, in stream order;
server-side tool calls and results arrive as :class:`LyzrToolActivityEvent` and the agent's
thinking as ``ThinkingBlock`` content, as for any other source.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.instrumentation.events import BaseEvent

from lyzr_stream import AgentEvent
from lyzr_stream._adapters.model_fields import agent_event_fields

__all__ = ["LyzrAgentEvent", "to_instrumentation_event"]


class LyzrAgentEvent(BaseEvent):
    """One event of the agent's events channel that is neither a tool call nor thinking.

    ``event_type`` is the service's (``process_start``, ``kb_documents_retrieved``, ...);
    ``update`` is True when it re-reports an entry (same ``log_id``) with changes; ``payload``
    is the message as the service sent it.
    """

    event_type: str
    level: str | None = None
    status: str | None = None
    message: str | None = None
    update: bool = False
    log_id: str | None = None
    payload: dict[str, Any] = {}
    session_id: str | None = None

    @classmethod
    def class_name(cls) -> str:
        return "LyzrAgentEvent"


def to_instrumentation_event(event: AgentEvent, session_id: str) -> LyzrAgentEvent:
    fields = agent_event_fields(event)
    # The same fields ChatLyzr reports; ``type`` and ``raw`` under this event's own names.
    return LyzrAgentEvent(
        event_type=fields.pop("type"), payload=fields.pop("raw"), session_id=session_id, **fields
    )
