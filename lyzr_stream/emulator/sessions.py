"""Lyzr's session routes, backed by the emulator's own session memory.

- ``GET /v1/sessions/{session_id}/history``: a list of ``{"role", "content", "created_at"}``;
- ``GET /v1/sessions/{session_id}/{agent_id}/history``: the documented ``{"history": [...]}``
  (so clients meet both shapes);
- ``GET /v1/agent/{agent_id}/sessions``: the sessions that have memory (turns sent to that agent
  through the v3 routes) plus those created here;
- ``POST /v1/sessions/{agent_id}`` (create), ``PUT`` / ``DELETE /v1/sessions/{session_id}``.

The ``x-emulator-fault`` header's status, ``html`` and ``fail-first`` faults apply. The memory
holds no times, so ``created_at`` of history entries is ``null``; a listed session's
``created_at`` is the time of its first request (or of its creation).
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .http import AppStore, keyed, state_of

__all__ = ["routes"]

_CHAT_PATHS = frozenset(
    {"/v3/inference/stream/", "/v3/inference/chat/", "/v3/inference/task/"}
)


class _CreatedSessions(AppStore, attribute="lyzr_sessions"):
    """Sessions made by ``POST /v1/sessions/{agent_id}``, with their metadata."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sessions: dict[str, dict[str, Any]] = {}


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _history(request: Request) -> list[dict[str, Any]]:
    session_id = request.path_params["session_id"]
    return [
        {"role": role, "content": text, "created_at": None}
        for role, text in state_of(request).history(session_id)
    ]


def _entry(
    session_id: str, agent_id: str, body: Any, name: str, created_at: float, metadata: Any
) -> dict[str, Any]:
    """A session as the list and create routes show it (``user_id`` from the request's body)."""
    return {
        "session_id": session_id,
        "agent_id": agent_id,
        "user_id": body.get("user_id") if isinstance(body, dict) else None,
        "session_name": name,
        "created_at": _iso(created_at),
        "metadata": metadata,
    }


@keyed
async def history(request: Request, body: Any) -> Response:
    return JSONResponse(_history(request))


@keyed
async def agent_history(request: Request, body: Any) -> Response:
    return JSONResponse({"history": _history(request)})


def _used_sessions(request: Request, agent_id: str) -> dict[str, dict[str, Any]]:
    """Sessions with memory that were talked to through this agent, first request first."""
    state = state_of(request)
    found: dict[str, dict[str, Any]] = {}
    for recorded in state.requests:
        body = recorded.json
        if recorded.path not in _CHAT_PATHS or not isinstance(body, dict):
            continue
        session_id = body.get("session_id")
        if body.get("agent_id") != agent_id or not isinstance(session_id, str):
            continue
        if session_id not in found and state.history(session_id):
            found[session_id] = _entry(
                session_id, agent_id, body, session_id, recorded.timestamp, {}
            )
    return found


@keyed
async def list_sessions(request: Request, body: Any) -> Response:
    agent_id = request.path_params["agent_id"]
    sessions = _used_sessions(request, agent_id)
    created = _CreatedSessions.of(request.app)
    with created.lock:
        for session_id, entry in created.sessions.items():
            if entry["agent_id"] == agent_id:
                sessions[session_id] = {**sessions.get(session_id, {}), **entry}
    return JSONResponse(list(sessions.values()))


@keyed
async def create_session(request: Request, body: Any) -> Response:
    agent_id = request.path_params["agent_id"]
    body = body if isinstance(body, dict) else {}
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    session_id = f"{agent_id}-{uuid.uuid4().hex[:12]}"
    name = (metadata or {}).get("title") or session_id
    entry = _entry(session_id, agent_id, body, name, time.time(), metadata)
    created = _CreatedSessions.of(request.app)
    with created.lock:
        created.sessions[session_id] = entry
    return JSONResponse(entry)


@keyed
async def update_session(request: Request, body: Any) -> Response:
    session_id = request.path_params["session_id"]
    metadata = body.get("metadata") if isinstance(body, dict) else None
    created = _CreatedSessions.of(request.app)
    with created.lock:
        entry = created.sessions.get(session_id)
        if entry is not None and isinstance(metadata, dict):
            entry["metadata"] = metadata
    return JSONResponse({"session_id": session_id, "metadata": metadata or {}})


@keyed
async def delete_session(request: Request, body: Any) -> Response:
    session_id = request.path_params["session_id"]
    state_of(request).forget(session_id)
    created = _CreatedSessions.of(request.app)
    with created.lock:
        created.sessions.pop(session_id, None)
    return JSONResponse({"message": "Session deleted", "session_id": session_id})


routes = [
    Route("/v1/sessions/{session_id}/history", history, methods=["GET"]),
    Route("/v1/sessions/{session_id}/{agent_id}/history", agent_history, methods=["GET"]),
    Route("/v1/agent/{agent_id}/sessions", list_sessions, methods=["GET"]),
    Route("/v1/sessions/{agent_id}", create_session, methods=["POST"]),
    Route("/v1/sessions/{session_id}", update_session, methods=["PUT"]),
    Route("/v1/sessions/{session_id}", delete_session, methods=["DELETE"]),
]
