"""Lyzr v3 background tasks: ``POST /v3/inference/task/`` and ``GET /v3/inference/task/{id}``.

A created task answers ``{"task_id", "status": "pending", "created_at"}``; its agent is the one
the chat route would run (the same body checks, faults and session memory: the user's turn is
remembered at creation, the answer when the task completes). Each poll moves it on by a script
counted in polls, so tests run fast and never race a clock: the first ``N`` polls answer
``processing`` (with ``progress``, a percentage), the next one ``completed`` with the one-shot
chat's document as ``result``, or ``failed`` with the agent's error as ``error`` (an agent that
fails, e.g. ``fail-midway``). ``N`` is 1 unless the create request's ``x-emulator-task-polls``
header says otherwise (``0``: done at the first poll). A stop for the task's session
(``POST /v3/inference/session/{id}/stop``) while it runs ends it ``failed`` ("the run was
stopped"). An unknown task id is a 404.

Faults: ``x-emulator-fault`` applies to the create request as to a chat; polls take theirs
from ``x-emulator-poll-fault`` (the same ``status``, ``html`` and ``fail-first`` specs, counted
per task), so a test can fault the polls without faulting the create. Every request is
recorded; ``Emulator.tasks`` lists the tasks; ``Emulator.reset()`` forgets them.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .agents import AgentCall, Answer
from .faults import FaultSpecError, parse_fault
from .http import AppStore, check_api_key, early_fault_response, record, state_of
from .lyzr_v3 import answering, chat_document

__all__ = ["POLL_FAULT_HEADER", "TASK_POLLS_HEADER", "TaskStore", "routes"]

TASK_POLLS_HEADER = "x-emulator-task-polls"
POLL_FAULT_HEADER = "x-emulator-poll-fault"


@dataclass
class _Task:
    task_id: str
    call: AgentCall
    answer: Answer
    created_at: str
    working_polls: int
    stops_at_start: int
    polls: int = 0
    status: str = "pending"
    error: str | None = None
    result: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "agent_id": self.call.agent_id,
            "session_id": self.call.session_id,
            "status": self.status,
            "polls": self.polls,
            "error": self.error,
        }


class TaskStore(AppStore, attribute="lyzr_tasks"):
    """The tasks created since the last reset (``app.state.lyzr_tasks``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tasks: dict[str, _Task] = {}

    def summaries(self) -> list[dict[str, Any]]:
        with self.lock:
            return [task.summary() for task in self.tasks.values()]


def _working_polls(request: Request) -> int:
    value = request.headers.get(TASK_POLLS_HEADER, "1").strip()
    return int(value) if value.isdigit() else 1


@answering
async def create(request: Request, call: AgentCall, answer: Answer) -> Response:
    task = _Task(
        task_id=f"task-{uuid.uuid4().hex[:16]}",
        call=call,
        answer=answer,
        created_at=datetime.now(UTC).isoformat(),
        working_polls=_working_polls(request),
        stops_at_start=state_of(request).stops_of(call.session_id),
    )
    store = TaskStore.of(request.app)
    with store.lock:
        store.tasks[task.task_id] = task
    return JSONResponse(
        {"task_id": task.task_id, "status": "pending", "created_at": task.created_at}
    )


def _advance(request: Request, task: _Task) -> None:
    """One poll's step of the task's script (under the store's lock)."""
    if task.status in ("completed", "failed"):
        return
    task.polls += 1
    state = state_of(request)
    if state.stops_of(task.call.session_id) > task.stops_at_start:
        task.status, task.error = "failed", "the run was stopped"
    elif task.polls <= task.working_polls:
        task.status = "processing"
    elif task.answer.error is not None:
        task.status, task.error = "failed", task.answer.error
    else:
        task.status = "completed"
        task.result = chat_document(task.call, task.answer)
        if task.answer.tool_call is None:
            state.remember(task.call.session_id, "assistant", task.answer.text)


def _document(task: _Task) -> dict[str, Any]:
    document: dict[str, Any] = {
        "task_id": task.task_id,
        "status": task.status,
        "metadata": {"agent_id": task.call.agent_id, "session_id": task.call.session_id},
    }
    if task.status == "processing":
        document["progress"] = min(99, round(100 * task.polls / (task.working_polls + 1)))
    elif task.status == "completed":
        document["progress"] = 100
        document["result"] = task.result
    elif task.status == "failed":
        document["error"] = task.error
    return document


async def status(request: Request) -> Response:
    await record(request)
    refused = check_api_key(request)
    if refused is not None:
        return refused
    task_id = request.path_params["task_id"]
    try:
        fault = parse_fault(request.headers.get(POLL_FAULT_HEADER))
    except FaultSpecError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    early = await early_fault_response(request, fault, f"poll:{task_id}")
    if early is not None:
        return early
    store = TaskStore.of(request.app)
    with store.lock:
        task = store.tasks.get(task_id)
        if task is None:
            return JSONResponse({"detail": f"Task '{task_id}' not found"}, status_code=404)
        _advance(request, task)
        document = _document(task)
    return JSONResponse(document)


routes = [
    Route("/v3/inference/task/", create, methods=["POST"]),
    Route("/v3/inference/task/{task_id}", status, methods=["GET"]),
]
