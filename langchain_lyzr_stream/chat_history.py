"""``LyzrChatMessageHistory``: a Lyzr agent's session memory as a LangChain chat history."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages import ChatMessage as LCChatMessage

from lyzr_stream import InvalidRequestError, LyzrClient, NotFoundError
from lyzr_stream._adapters.session_memory import (
    HistoryClientOptions,
    aread_memory,
    history_client,
    read_memory,
)
from lyzr_stream._routes.sessions import SessionMessage

__all__ = ["LyzrChatMessageHistory", "to_langchain_messages"]

_CLASSES: Mapping[str, type[BaseMessage]] = {
    "user": HumanMessage,
    "human": HumanMessage,
    "assistant": AIMessage,
    "ai": AIMessage,
    "system": SystemMessage,
}


def to_langchain_messages(history: Sequence[SessionMessage]) -> list[BaseMessage]:
    """Session memory entries as LangChain messages (``created_at`` in ``response_metadata``)."""
    out: list[BaseMessage] = []
    for entry in history:
        meta = {"created_at": entry.created_at} if entry.created_at else {}
        cls = _CLASSES.get(entry.role)
        if cls is None:
            message = LCChatMessage(content=entry.content, role=entry.role, response_metadata=meta)
            out.append(message)
        else:
            out.append(cls(content=entry.content, response_metadata=meta))
    return out


class LyzrChatMessageHistory(BaseChatMessageHistory):
    """The memory a Lyzr agent keeps for one session, read from the service.

    The agent records every turn itself, on the server, under the ``session_id`` of the
    request. This history reads that record (``messages`` / ``aget_messages``) and deletes
    it (``clear`` / ``aclear``: the session is deleted on the service).

    **Adding messages does nothing**, on purpose: the service offers no way to write into a
    session's memory, and the turns a chain would add were already recorded by the agent
    when it answered. ``RunnableWithMessageHistory`` calls ``add_messages`` after every turn,
    so raising there would make this class unusable with it.

    Use the same ``session_id`` as the model, e.g. with ``RunnableWithMessageHistory``
    (which passes ``config["configurable"]["session_id"]``, the key ChatLyzr reads too)::

        chain = RunnableWithMessageHistory(
            prompt | ChatLyzr(agent_id=AGENT),
            lambda session_id: LyzrChatMessageHistory(session_id, agent_id=AGENT),
            input_messages_key="question",
            history_messages_key="history",
        )
        chain.invoke({"question": "Hi"}, config={"configurable": {"session_id": "s1"}})

    With a session id (here ``configurable["session_id"]``), ChatLyzr's default
    ``message_mode="auto"`` sends only the new question: the agent already has the earlier turns.

    Args:
        session_id: the session to read.
        agent_id: read through the agent-scoped route
            (``/v1/sessions/{session_id}/{agent_id}/history``); else the session route.
        api_key, base_url, user_id, timeout, max_retries, default_headers,
        allow_insecure_http: as for ChatLyzr (``LYZR_API_KEY`` / ``LYZR_BASE_URL`` apply).
        client: a :class:`~lyzr_stream.LyzrClient` to use instead (then the other client
            arguments must not be given).
    """

    def __init__(
        self,
        session_id: str,
        agent_id: str | None = None,
        *,
        client: LyzrClient | None = None,
        **client_options: Unpack[HistoryClientOptions],
    ) -> None:
        super().__init__()
        if not isinstance(session_id, str) or not session_id.strip():
            raise InvalidRequestError("session_id must be a non-empty string")
        self.session_id = session_id
        self.agent_id = agent_id
        self.client = history_client(client, client_options, "LyzrChatMessageHistory")

    def __repr__(self) -> str:
        return (
            f"LyzrChatMessageHistory(session_id={self.session_id!r}, "
            f"agent_id={self.agent_id!r})"
        )

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The session's turns, oldest first, read from the service on each access.

        A session the service does not know (404) has no turns yet: an empty list. User turns
        read back as the user's words: the block of system text (instructions, retrieved
        context) ChatLyzr sends in front of them is cut off.
        """
        return to_langchain_messages(read_memory(self.client, self.session_id, self.agent_id))

    async def aget_messages(self) -> list[BaseMessage]:
        history = await aread_memory(self.client, self.session_id, self.agent_id)
        return to_langchain_messages(history)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Does nothing: the agent recorded these turns itself when it answered."""

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Does nothing: the agent recorded these turns itself when it answered."""

    def clear(self) -> None:
        """Delete the session (and its memory) on the service; an unknown one is left as is."""
        with contextlib.suppress(NotFoundError):
            self.client.delete_session(self.session_id)

    async def aclear(self) -> None:
        with contextlib.suppress(NotFoundError):
            await self.client.adelete_session(self.session_id)

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("LyzrChatMessageHistory holds a client and cannot be pickled")
