"""A Lyzr agent's session memory as LlamaIndex ``ChatMessage``\\ s (read-only).

The agent records every turn itself, on the server; the service has no way to write into a
session's memory, so this module only reads it. To continue a session in a chat engine, load
its history once and let the engine's own memory carry on from there::

    from llama_index.core.chat_engine import SimpleChatEngine
    from llamaindex_lyzr_stream import LyzrLLM, read_session_history

    llm = LyzrLLM(agent_id=AGENT, session_id="s1")
    engine = SimpleChatEngine.from_defaults(
        llm=llm, chat_history=read_session_history("s1", client=llm.client)
    )
    engine.chat("Where were we?")

With a session id, the default ``message_mode="auto"`` sends only the new message: the agent
already has the earlier turns, the engine's copy is for your code (``engine.chat_history``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Unpack

from llama_index.core.base.llms.types import ChatMessage, MessageRole

from lyzr_stream import LyzrClient
from lyzr_stream._adapters.session_memory import (
    HistoryClientOptions,
    aread_memory,
    history_client,
    read_memory,
)
from lyzr_stream._routes.sessions import SessionMessage

__all__ = ["aread_session_history", "read_session_history", "to_llamaindex_messages"]

_ROLES: Mapping[str, MessageRole] = {
    "user": MessageRole.USER,
    "human": MessageRole.USER,
    "assistant": MessageRole.ASSISTANT,
    "ai": MessageRole.ASSISTANT,
    "system": MessageRole.SYSTEM,
    "tool": MessageRole.TOOL,
}


def to_llamaindex_messages(history: Sequence[SessionMessage]) -> list[ChatMessage]:
    """Session memory entries as chat messages (``created_at`` in ``additional_kwargs``)."""
    out: list[ChatMessage] = []
    for entry in history:
        extras = {"created_at": entry.created_at} if entry.created_at else {}
        role = _ROLES.get(entry.role, MessageRole.USER)
        out.append(ChatMessage(role=role, content=entry.content, additional_kwargs=extras))
    return out


def read_session_history(
    session_id: str,
    *,
    agent_id: str | None = None,
    client: LyzrClient | None = None,
    **client_options: Unpack[HistoryClientOptions],
) -> list[ChatMessage]:
    """The session's memory, oldest first, as LlamaIndex chat messages.

    Pass ``client=llm.client`` to reuse a ``LyzrLLM``'s connection and key; otherwise a client
    is made from ``api_key``, ``base_url``, ``user_id``, ``timeout``, ``max_retries``,
    ``default_headers`` and ``allow_insecure_http`` (``LYZR_API_KEY`` / ``LYZR_BASE_URL``
    apply). With ``agent_id`` the agent-scoped route is read. A session the service does not
    know (404) reads as empty. To forget a session, call ``client.delete_session(session_id)``.
    """
    lyzr = history_client(client, client_options, "read_session_history")
    return to_llamaindex_messages(read_memory(lyzr, session_id, agent_id))


async def aread_session_history(
    session_id: str,
    *,
    agent_id: str | None = None,
    client: LyzrClient | None = None,
    **client_options: Unpack[HistoryClientOptions],
) -> list[ChatMessage]:
    """Async form of :func:`read_session_history`."""
    lyzr = history_client(client, client_options, "aread_session_history")
    return to_llamaindex_messages(await aread_memory(lyzr, session_id, agent_id))
