"""The agent's session memory over Lyzr's session API, sans-I/O: paths and answer parsing.

Routes (docs/wire.md, "Files, sessions and tasks"), all with ``x-api-key``:

- ``GET /v1/sessions/{session_id}/history``: a list of ``{"role", "content", "created_at"}``;
- ``GET /v1/sessions/{session_id}/{agent_id}/history``: documented as ``{"history": [...]}``,
  read as a list by the Studio web client: both shapes are accepted everywhere;
- ``GET /v1/agent/{agent_id}/sessions``: the agent's sessions (a list; a ``{"sessions": [...]}``
  wrapper is accepted too);
- ``POST /v1/sessions/{agent_id}`` with ``{"user_id", "agent_id", "metadata"}`` -> ``session_id``;
- ``DELETE /v1/sessions/{session_id}``.

Each route is one :class:`~lyzr_stream._routes.route.Route` built here (``history_route``, ...):
the client's sync and async methods only send it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import APIResponseValidationError, excerpt
from ..dialects._base import encode_path_segment
from .route import SESSIONS, Route, answer_json, answer_list, optional_str

__all__ = [
    "SessionInfo",
    "SessionMessage",
    "create_session_path",
    "create_session_route",
    "delete_session_route",
    "history_path",
    "history_route",
    "parse_created_session",
    "parse_history",
    "parse_sessions",
    "session_path",
    "sessions_path",
    "sessions_route",
]


@dataclass(frozen=True, slots=True)
class SessionMessage:
    """One turn of a session's memory: ``role`` is ``"user"`` or ``"assistant"`` (as stored)."""

    role: str
    content: str
    created_at: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One session of an agent, as the service lists it."""

    session_id: str
    agent_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    created_at: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


def history_path(session_id: str, agent_id: str | None = None) -> str:
    session = encode_path_segment(session_id, "session_id")
    if agent_id is None:
        return f"/v1/sessions/{session}/history"
    return f"/v1/sessions/{session}/{encode_path_segment(agent_id, 'agent_id')}/history"


def sessions_path(agent_id: str) -> str:
    return f"/v1/agent/{encode_path_segment(agent_id, 'agent_id')}/sessions"


def session_path(session_id: str) -> str:
    return f"/v1/sessions/{encode_path_segment(session_id, 'session_id')}"


def create_session_path(agent_id: str) -> str:
    return f"/v1/sessions/{encode_path_segment(agent_id, 'agent_id')}"


_TEXT_KEYS = ("content", "message", "text")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    # Structured content (a list of parts) is kept readable rather than dropped.
    return json.dumps(value, ensure_ascii=False, default=str)


def parse_history(body: bytes) -> list[SessionMessage]:
    """A history answer, either shape (a list, or ``{"history": [...]}``), oldest first."""
    entries = answer_list(body, "history", "session history")
    messages: list[SessionMessage] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("role"), str):
            raise APIResponseValidationError(
                "a session history entry has no role", body_excerpt=excerpt(json.dumps(entry))
            )
        messages.append(
            SessionMessage(
                role=entry["role"],
                # "content" is the documented key; "message" / "text" are read as well.
                content=_text(next((entry[k] for k in _TEXT_KEYS if k in entry), None)),
                created_at=optional_str(entry.get("created_at")),
                raw=entry,
            )
        )
    return messages


def parse_sessions(body: bytes) -> list[SessionInfo]:
    """A sessions list answer (a list, or ``{"sessions": [...]}``)."""
    entries = answer_list(body, "sessions", "sessions list")
    sessions: list[SessionInfo] = []
    for entry in entries:
        session_id = entry.get("session_id") if isinstance(entry, dict) else None
        if not isinstance(session_id, str) or not session_id:
            raise APIResponseValidationError(
                "a sessions list entry has no session_id",
                body_excerpt=excerpt(json.dumps(entry, default=str)),
            )
        metadata = entry.get("metadata")
        sessions.append(
            SessionInfo(
                session_id=session_id,
                agent_id=optional_str(entry.get("agent_id")),
                user_id=optional_str(entry.get("user_id")),
                name=optional_str(entry.get("session_name") or entry.get("name")),
                created_at=optional_str(entry.get("created_at")),
                metadata=metadata if isinstance(metadata, dict) else {},
                raw=entry,
            )
        )
    return sessions


def parse_created_session(body: bytes) -> str:
    """The new session's id from a create answer (``{"session_id": ...}`` or a bare string)."""
    document = answer_json(body, "create session")
    if isinstance(document, str) and document:
        return document
    if isinstance(document, dict):
        session_id = document.get("session_id") or document.get("id")
        if isinstance(session_id, str) and session_id:
            return session_id
    raise APIResponseValidationError(
        "the create session answer has no session_id", body_excerpt=excerpt(body)
    )


# -- the routes as calls -----------------------------------------------------------------------
def history_route(session_id: str, agent_id: str | None = None) -> Route[list[SessionMessage]]:
    """``GET`` the session's memory (agent-scoped with ``agent_id``)."""
    return Route.get(SESSIONS, history_path(session_id, agent_id), parse_history)


def sessions_route(agent_id: str) -> Route[list[SessionInfo]]:
    """``GET`` the agent's sessions."""
    return Route.get(SESSIONS, sessions_path(agent_id), parse_sessions)


def create_session_route(
    agent_id: str, user_id: str, metadata: Mapping[str, Any] | None = None
) -> Route[str]:
    """``POST`` a new session of ``agent_id`` for ``user_id``; the answer is its id."""
    body = {"user_id": user_id, "agent_id": agent_id, "metadata": dict(metadata or {})}
    return Route.post_json(SESSIONS, create_session_path(agent_id), body, parse_created_session)


def _no_result(body: bytes) -> None:
    # A delete answers with a status; its body, whatever it says, is not the caller's business.
    return None


def delete_session_route(session_id: str) -> Route[None]:
    """``DELETE`` the session and its memory."""
    return Route.delete(SESSIONS, session_path(session_id), _no_result)
