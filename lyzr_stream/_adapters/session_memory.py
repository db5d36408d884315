"""A session's memory on the service, as both frameworks' history readers read it.

LangChain's ``LyzrChatMessageHistory`` and LlamaIndex's ``read_session_history`` take the same
client arguments (:class:`HistoryClientOptions`, declared once here) and follow the same rule: a
session the service does not know (404) has no turns yet, an empty list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import httpx
from pydantic import SecretStr

from .._client import LyzrClient
from .._errors import NotFoundError
from .._http.limits import Timeouts
from .._routes.sessions import SessionMessage

__all__ = ["HistoryClientOptions", "aread_memory", "history_client", "read_memory"]


class HistoryClientOptions(TypedDict, total=False):
    """The client arguments of a history reader, as for ChatLyzr and LyzrLLM (``LYZR_API_KEY``
    and ``LYZR_BASE_URL`` apply). ``timeout`` left out means the library's defaults
    (``lyzr_stream.Timeouts()``); ``timeout=None`` means no timeout, as for ``LyzrClient``."""

    api_key: str | SecretStr | None
    base_url: str | None
    user_id: str | None
    timeout: float | httpx.Timeout | Timeouts | None
    max_retries: int
    default_headers: Mapping[str, str] | None
    allow_insecure_http: bool


def history_client(client: LyzrClient | None, options: Mapping[str, Any], owner: str) -> LyzrClient:
    """``client`` if given (a model's, to share its connections and key), else a new one."""
    unknown = sorted(set(options) - HistoryClientOptions.__optional_keys__)
    if unknown:
        raise TypeError(f"{owner}() got unexpected keyword argument(s) {unknown}")
    return client if client is not None else LyzrClient(**options)


def read_memory(client: LyzrClient, session_id: str, agent_id: str | None) -> list[SessionMessage]:
    """The session's turns, oldest first (``agent_id``: the agent-scoped route)."""
    try:
        return client.session_history(session_id, agent_id=agent_id)
    except NotFoundError:
        return []  # a session the service does not know has no turns yet


async def aread_memory(
    client: LyzrClient, session_id: str, agent_id: str | None
) -> list[SessionMessage]:
    """Async :func:`read_memory`."""
    try:
        return await client.asession_history(session_id, agent_id=agent_id)
    except NotFoundError:
        return []
