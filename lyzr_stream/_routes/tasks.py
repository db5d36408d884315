"""Background runs of an agent (Lyzr v3 tasks), sans-I/O: the requests and answer parsing.

Routes (docs/wire.md, "Files, sessions and tasks"), with ``x-api-key``:

- ``POST /v3/inference/task/`` with the chat body -> ``{"task_id", "status": "pending",
  "created_at"}``. The body is the one-shot chat request's, path aside: :func:`task_request`
  takes the dialect's ``chat_request`` (built by ``LyzrClient._agent_call`` like every agent
  call: ids filled in by ``prepare``, ``extra_body`` added) and only replaces its path, so the
  two bodies cannot drift apart. Creating a task runs the agent (``runs_agent``).
- ``GET /v3/inference/task/{task_id}`` -> ``{"status", "progress"?, "error"?, "metadata"?,
  "result"?}``; ``status`` is ``pending``/``processing``/``in_progress``/``running`` while the run
  works, ``completed`` or ``failed`` at the end. A completed task's ``result`` is the one-shot
  answer (``{"response", "session_id", "message_id", "metadata", "tool_calls"}``), parsed by the
  dialect's ``parse_chat``; a failed one's ``error`` is a message. Unknown task: 404.

Leniency, as for the session routes: unknown fields are kept in ``raw``; ``id`` is read for
``task_id``; a status in another case is lowered; ``cancelled``/``canceled``/``stopped``/``error``
end a task as ``failed``; a ``result`` that is a bare string is the answer text. An answer with
nothing usable (no id, no status, a completed task without a result) is an
:class:`~lyzr_stream.APIResponseValidationError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .._errors import APIResponseValidationError, InvalidRequestError, excerpt
from .._events import AgentEvent
from .._json import decode
from .._request import AgentRequest
from .._response import AgentResponse
from ..dialects._base import HttpRequest, encode_path_segment
from .route import Route, Service, answer_json, optional_str

__all__ = [
    "COMPLETED",
    "FAILED",
    "TASKS",
    "TASK_PATH",
    "TaskInfo",
    "TaskStatus",
    "check_task_id",
    "check_wait",
    "parse_created_task",
    "parse_task_status",
    "progress_event",
    "stand_in_request",
    "task_path",
    "task_request",
    "task_status_route",
]

#: The Lyzr background-task routes (``Dialect.has_tasks``).
TASKS = Service("background tasks", lambda dialect: dialect.has_tasks)

TASK_PATH = "/v3/inference/task/"
COMPLETED = "completed"
FAILED = "failed"
#: Statuses that end a task as failed besides ``failed`` itself (not in the docs: a stopped
#: run must not be polled forever).
_FAILED_ALIASES = frozenset({"cancelled", "canceled", "stopped", "error"})


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """A background task just created: ``task_id`` to poll, its first ``status``
    (``pending``), the service's ``created_at``, and the ``session_id`` the run uses (the one
    to stop, or to continue the conversation in)."""

    task_id: str
    status: str
    created_at: str | None = None
    session_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """One poll of a background task.

    ``status`` as the service says it (lowercased); ``done`` once it is ``completed`` or
    ``failed``. ``response`` is the answer of a completed task (the same
    :class:`~lyzr_stream.AgentResponse` a one-shot chat gives), ``error`` the message of a
    failed one, ``progress`` and ``metadata`` whatever the service reports while it works.
    """

    task_id: str
    status: str
    response: AgentResponse | None = None
    error: str | None = None
    progress: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def done(self) -> bool:
        """The task ended (``completed`` or ``failed``): polling again changes nothing."""
        return self.status in (COMPLETED, FAILED)

    @property
    def failed(self) -> bool:
        return self.status == FAILED


def check_task_id(task_id: object) -> str:
    """``task_id`` if it is a non-empty string, else :class:`InvalidRequestError`."""
    if not isinstance(task_id, str) or not task_id.strip():
        raise InvalidRequestError(f"task_id must be a non-empty string, got {task_id!r}")
    return task_id


def check_wait(poll_interval: object, timeout: object) -> None:
    """How a caller waits for a task: ``poll_interval`` a finite number of seconds above 0,
    ``timeout`` None or one too; else :class:`InvalidRequestError` naming it."""
    checks = (("poll_interval", poll_interval, False), ("timeout", timeout, True))
    for name, value, optional in checks:
        if optional and value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value <= 0
        ):
            allowed = "None or " if optional else ""
            raise InvalidRequestError(
                f"{name} must be {allowed}a finite number of seconds above 0, got {value!r}"
            )


def task_path(task_id: str) -> str:
    return TASK_PATH + encode_path_segment(check_task_id(task_id), "task_id")


def task_request(chat: HttpRequest) -> HttpRequest:
    """The create request: the dialect's one-shot chat request sent to the task route."""
    return replace(chat, path=TASK_PATH)


def _document(body: bytes, what: str) -> dict[str, Any]:
    document = answer_json(body, what)
    if not isinstance(document, dict):
        raise APIResponseValidationError(
            f"the {what} answer is not a JSON object", body_excerpt=excerpt(body)
        )
    return document


def _status(document: Mapping[str, Any], what: str, body: bytes) -> str:
    status = document.get("status")
    if not isinstance(status, str) or not status.strip():
        raise APIResponseValidationError(
            f"the {what} answer has no status", body_excerpt=excerpt(body)
        )
    status = status.strip().lower()
    return FAILED if status in _FAILED_ALIASES else status


def parse_created_task(body: bytes, session_id: str | None = None) -> TaskInfo:
    """A create answer: ``{"task_id", "status", "created_at"}`` (``id`` read for ``task_id``;
    no status reads as ``pending``)."""
    document = _document(body, "create task")
    task_id = document.get("task_id") or document.get("id")
    if not isinstance(task_id, str) or not task_id.strip():
        raise APIResponseValidationError(
            "the create task answer has no task_id", body_excerpt=excerpt(body)
        )
    status = _status(document, "create task", body) if "status" in document else "pending"
    created = document.get("created_at")
    return TaskInfo(
        task_id=task_id,
        status=status,
        created_at=str(created) if isinstance(created, (str, int, float)) else None,
        session_id=optional_str(document.get("session_id")) or session_id,
        raw=document,
    )


def _error_text(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, Mapping):
        for key in ("message", "detail", "error"):
            text = value.get(key)
            if isinstance(text, str) and text.strip():
                return text
    if value:
        return json.dumps(value, default=str)
    return "the service gave no reason"


def parse_task_status(
    body: bytes, task_id: str, parse_result: Callable[[bytes, str], AgentResponse]
) -> TaskStatus:
    """A poll answer. ``parse_result(result, task_id)`` turns a completed task's ``result``
    (as JSON bytes) into the response: the dialect's one-shot parsing."""
    document = _document(body, "task status")
    status = _status(document, "task status", body)
    metadata = document.get("metadata")
    response = None
    error = None
    if status == COMPLETED:
        result = document.get("result")
        if isinstance(result, str):
            result = {"response": result}
        if not isinstance(result, dict):
            raise APIResponseValidationError(
                "the task completed but its answer has no result", body_excerpt=excerpt(body)
            )
        response = parse_result(json.dumps(result).encode(), task_id)
    elif status == FAILED:
        error = _error_text(document.get("error"))
    return TaskStatus(
        task_id=optional_str(document.get("task_id")) or task_id,
        status=status,
        response=response,
        error=error,
        progress=document.get("progress"),
        metadata=metadata if isinstance(metadata, dict) else {},
        raw=document,
    )


def task_status_route(
    task_id: str, parse_result: Callable[[bytes, str], AgentResponse]
) -> Route[TaskStatus]:
    """``GET`` the task's status (idempotent: retried like any read)."""
    path = task_path(task_id)
    return Route.get(TASKS, path, lambda body: parse_task_status(body, task_id, parse_result))


def stand_in_request(result: bytes, task_id: str, user_id: str) -> AgentRequest:
    """The request a completed task's ``result`` is parsed against when the caller polls a task
    by id alone (``get_task``): the ids the result names (agent, session, user), else the task
    id for the session and the client's user."""
    document = decode(result, what="the task result")
    document = document if isinstance(document, dict) else {}
    metadata = document.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}

    def named(key: str) -> str | None:
        value = document.get(key) or metadata.get(key)
        return value if isinstance(value, str) and value.strip() else None

    return AgentRequest(
        agent_id=named("agent_id") or "unknown",
        message="(background task)",
        session_id=named("session_id") or task_id,
        user_id=named("user_id") or user_id,
    )


def progress_event(status: TaskStatus) -> AgentEvent:
    """A poll of a task still running as one of the agent's events (type ``task_progress``):
    how the frameworks report it, on the path a server-side activity event takes. ``status``
    is the task's; ``message`` its progress when that is text (else the progress as JSON)."""
    progress = status.progress
    if progress is None or isinstance(progress, str):
        message = progress
    else:
        message = json.dumps(progress, default=str)
    raw = {"task_id": status.task_id, **status.raw}
    return AgentEvent("task_progress", status=status.status, message=message, raw=raw)
