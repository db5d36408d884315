"""A model call run as a background task (``run_as_task=True``), read like a stream.

Both frameworks read an answer through an event stream (``LyzrClient.stream``: iterate the
events, then ``response()`` and ``stats.timing()``; closing it early stops the agent).
:class:`TaskEventStream` gives a background task that same shape, so ChatLyzr and LyzrLLM run a
task on the paths their streams already take:

- while the task works, each new report of the service (a change of its status or progress)
  is an :class:`~lyzr_stream.AgentEvent` of type ``task_progress`` (``status`` the task's,
  ``message`` its progress), surfaced exactly as an event of the agents-events channel is
  (ChatLyzr: the ``lyzr_agent_event`` custom event; LyzrLLM: ``LyzrAgentEvent``);
- when it completes: the server-side tool activity of the answer, its reasoning, then its text
  as ONE text event (the task hands the answer over whole);
- a failed task raises ``TaskFailedError``; leaving before the end (``break``, ``close()``,
  cancellation) stops the run's session, as a stream left early does.

A call with local tools bound is refused by the client (``InvalidRequestError``): a task has no
way to hand tool calls back. Per-call ``timeout`` and ``max_retries`` apply to each request
(create, polls); the task itself is waited for as long as it runs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from contextlib import aclosing, closing
from typing import Any

from .._client import LyzrClient
from .._events import ReasoningDelta, StreamEvent, TextDelta
from .._http.connections import AsyncClosingContext, ClosingContext
from .._http.limits import NOT_GIVEN
from .._request import AgentRequest
from .._response import AgentResponse
from .._routes.tasks import TaskStatus, progress_event

__all__ = ["AsyncTaskEventStream", "TaskEventStream", "atask_stream", "task_stream"]


class _TaskTiming:
    """What ``EventStream.stats`` gives the frameworks: the answer arrives whole, so its first
    token comes when all of it does (``time_to_first_token`` equals ``total_time``)."""

    __slots__ = ("answered", "started")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.answered: float | None = None

    def timing(self) -> dict[str, float | None]:
        elapsed = None if self.answered is None else self.answered - self.started
        return {"time_to_first_token": elapsed, "total_time": elapsed}


class _Progress:
    """Which polls are news: a status or progress not reported yet."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: tuple[str, str] | None = None

    def events(self, status: TaskStatus, stats: _TaskTiming) -> list[StreamEvent]:
        if not status.done:
            event = progress_event(status)
            seen = (status.status, event.message or "")
            if seen == self._seen:
                return []
            self._seen = seen
            return [event]
        stats.answered = time.perf_counter()
        response = status.response
        assert response is not None  # a failed task raised before it got here
        out: list[StreamEvent] = list(response.tool_activity)
        if response.reasoning:
            out.append(ReasoningDelta(response.reasoning))
        if response.text:
            out.append(TextDelta(response.text))
        return out


class _Base:
    __slots__ = ("_progress", "_response", "session_id", "stats")

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.stats = _TaskTiming()
        self._progress = _Progress()
        self._response: AgentResponse | None = None

    def _events(self, status: TaskStatus) -> list[StreamEvent]:
        if status.response is not None:
            self._response = status.response
        return self._progress.events(status, self.stats)

    def response(self) -> AgentResponse:
        """The task's answer (once the events are read to their end)."""
        if self._response is None:
            raise RuntimeError("response() before the task completed")
        return self._response


class TaskEventStream(_Base, ClosingContext):
    """A background task as an event stream (sync)."""

    __slots__ = ("_updates",)

    def __init__(self, updates: Generator[TaskStatus, None, None], session_id: str) -> None:
        super().__init__(session_id)
        self._updates = updates

    def __iter__(self) -> Iterator[StreamEvent]:
        with closing(self._updates):
            for status in self._updates:
                yield from self._events(status)

    def close(self) -> None:
        """Leave now: a task still running is stopped (``stop_on_exit``)."""
        self._updates.close()


class AsyncTaskEventStream(_Base, AsyncClosingContext):
    """A background task as an event stream (async)."""

    __slots__ = ("_updates",)

    def __init__(self, updates: AsyncGenerator[TaskStatus, None], session_id: str) -> None:
        super().__init__(session_id)
        self._updates = updates

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        async with aclosing(self._updates):
            async for status in self._updates:
                for event in self._events(status):
                    yield event

    async def aclose(self) -> None:
        """Leave now: a task still running is stopped (``stop_on_exit``)."""
        await self._updates.aclose()


def _arguments(policy: Mapping[str, Any], poll_interval: float) -> dict[str, Any]:
    """``task_updates`` arguments: the call's policy applies to each request."""
    return {
        "poll_interval": poll_interval,
        "request_timeout": policy.get("timeout", NOT_GIVEN),
        "max_retries": policy.get("max_retries"),
    }


def task_stream(
    client: LyzrClient,
    request: AgentRequest,
    policy: Mapping[str, Any],
    poll_interval: float,
) -> TaskEventStream:
    """``request`` run as a background task, read as a stream (nothing sent until read)."""
    request = client.prepare(request)
    updates = client.task_updates(request, **_arguments(policy, poll_interval))
    return TaskEventStream(updates, str(request.session_id))


def atask_stream(
    client: LyzrClient,
    request: AgentRequest,
    policy: Mapping[str, Any],
    poll_interval: float,
) -> AsyncTaskEventStream:
    """Async form of :func:`task_stream`."""
    request = client.prepare(request)
    updates = client.atask_updates(request, **_arguments(policy, poll_interval))
    return AsyncTaskEventStream(updates, str(request.session_id))

