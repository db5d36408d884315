"""One answer of a Lyzr agent as LangChain output: the path every ChatLyzr method goes through.

``ChatLyzr._stream`` / ``_astream`` are :meth:`Turn.stream` / :meth:`Turn.astream`; a streamed
``invoke`` drains the same generator and builds its message with :meth:`Turn.result` from the
core's answer (linear time, never by merging chunks); a plain ``invoke`` is :meth:`Turn.whole`.
So the stop rule, the token callbacks, the message ids and the reports of server-side tool
activity live here once, and the sync and async loops are a few lines each around
:meth:`Turn.chunks`, the pure step from one core event to its chunks.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    BaseCallbackManager,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.messages import LC_ID_PREFIX
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from langchain_lyzr_stream._convert import (
    event_to_chunk,
    final_chunk,
    response_to_result,
    text_chunk,
)
from lyzr_stream import (
    AgentEvent,
    AgentRequest,
    AgentResponse,
    AsyncEventStream,
    EventStream,
    LyzrClient,
    TextDelta,
    ToolActivity,
)
from lyzr_stream._adapters.attachments import CallAttachments
from lyzr_stream._adapters.model_fields import agent_event_fields
from lyzr_stream._adapters.session_memory import record_answer
from lyzr_stream._adapters.stop_sequences import StopFilter, cut_at_stop
from lyzr_stream._adapters.tasks import (
    AsyncTaskEventStream,
    TaskEventStream,
    atask_stream,
    task_stream,
)
from lyzr_stream._events import StreamEvent

__all__ = ["ActivityReporter", "Turn"]

RunManager = CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun
Timing = dict[str, float | None]


class Turn:
    """One call: the request, its stop sequences, and what the answer has become so far.

    ``stop`` is the call's effective list (per-call ``stop`` if given, ``[]`` included, else the
    instance's): the same cut applies to whole and streamed answers, sync and async. With a run
    manager, each chunk carries LangChain's message id for the run (``LC_ID_PREFIX-<run id>``, as
    LangChain's own streaming path stamps it) and goes to ``on_llm_new_token``; without one
    (LangChain's ``stream()`` fires the callbacks and stamps the ids itself) chunks leave bare.
    """

    __slots__ = (
        "_run_manager",
        "_stop",
        "_stops",
        "activity",
        "files",
        "message_id",
        "policy",
        "request",
        "response",
        "task_poll_interval",
        "timing",
    )

    def __init__(
        self,
        request: AgentRequest,
        policy: dict[str, Any],
        stop: Sequence[str] | None,
        run_manager: RunManager | None,
        activity: ActivityReporter,
        files: CallAttachments | None = None,
        task_poll_interval: float | None = None,
    ) -> None:
        self.request = request
        #: ``run_as_task``: the call runs as a background task polled this often (seconds).
        self.task_poll_interval = task_poll_interval
        #: Files of the call, uploaded when the call starts (a failed upload sends nothing).
        self.files = files
        self.policy = policy
        self._stop = tuple(s for s in stop or () if s)
        self._stops = StopFilter(self._stop) if self._stop else None
        self._run_manager = run_manager
        self.message_id = f"{LC_ID_PREFIX}-{run_manager.run_id}" if run_manager else None
        self.activity = activity
        self.response: AgentResponse | None = None
        self.timing: Timing = {}

    @property
    def stopped(self) -> bool:
        """A stop sequence was reached: the caller closes the stream there."""
        return self._stops is not None and self._stops.stopped

    @property
    def bare(self) -> bool:
        """Text leaves as it comes: no stop sequences, no run manager (LangChain's ``stream()``
        stamps the ids and fires the callbacks itself). The streaming loops' fast path."""
        return self._stops is None and self._run_manager is None

    # -- the pure step ----------------------------------------------------------------------------
    def chunks(self, event: StreamEvent) -> list[ChatGenerationChunk]:
        """The chunks one core event becomes (none, or one) under the stop rule."""
        if self._stops is not None and isinstance(event, TextDelta):
            text = self._stops.feed(event.text)
            chunk = text_chunk(text) if text else None
        else:
            chunk = event_to_chunk(event)
        if chunk is None:
            return []
        if self.message_id is not None:
            chunk.message.id = self.message_id
        return [chunk]

    def _close(self, response: AgentResponse, timing: Timing) -> list[ChatGenerationChunk]:
        """The held-back text (a stream that ended inside a possible stop string), then the
        closing chunk with the metadata and ``chunk_position="last"``."""
        self.response, self.timing = response, timing
        held = self._stops.finish() if self._stops is not None else ""
        out = [text_chunk(held)] if held else []
        out.append(final_chunk(response, timing))
        if self.message_id is not None:
            for chunk in out:
                chunk.message.id = self.message_id
        return out

    def _record(self, client: LyzrClient, response: AgentResponse) -> None:
        """The answer the caller received goes into the client's session record."""
        text = cut_at_stop(response.text, self._stop)[0] if self._stop else response.text
        record_answer(client, response.session_id, text)

    def result(self) -> ChatResult:
        """The whole answer of a finished stream, cut at the stop rule."""
        assert self.response is not None, "result() before the stream ended"
        return self._result(self.response, self.timing)

    def _result(self, response: AgentResponse, timing: Timing) -> ChatResult:
        if self._stop:
            response = replace(response, text=cut_at_stop(response.text, self._stop)[0])
        result = response_to_result(response, timing)
        if self.message_id is not None:
            result.generations[0].message.id = self.message_id
        return result

    # -- sync -------------------------------------------------------------------------------------
    def stream(self, client: LyzrClient) -> Iterator[ChatGenerationChunk]:
        manager = self._run_manager
        tokens = manager if isinstance(manager, CallbackManagerForLLMRun) else None
        activity = self.activity
        bare = self.bare
        request = self.files.attach(client, self.request) if self.files else self.request
        carrier = client.agent_events is not None or self.task_poll_interval is not None
        with self._open(client, request) as events:
            for event in events:
                if bare and isinstance(event, TextDelta):  # the hot path: one chunk per delta
                    chunk = text_chunk(event.text)
                    yield chunk
                    if not activity.idle:
                        activity.flush(chunk)
                    continue
                if isinstance(event, (ToolActivity, AgentEvent)):
                    activity.report(event)
                    if carrier and not activity.idle:
                        # stream() gives no run id; an empty chunk LangChain stamps brings it,
                        # so the agent's events are not held back until the answer's text.
                        chunk = text_chunk("")
                        yield chunk
                        activity.flush(chunk)
                    continue
                for chunk in self.chunks(event):
                    if tokens is not None:
                        tokens.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
                    if not activity.idle:
                        activity.flush(chunk)
                if self.stopped:
                    break
            tail = self._close(events.response(), events.stats.timing())
        self._record(client, events.response())
        for chunk in tail:
            if tokens is not None:
                tokens.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
            activity.flush(chunk)

    def _open(self, client: LyzrClient, request: AgentRequest) -> EventStream | TaskEventStream:
        """The call's events: its stream, or its background task read as one (``run_as_task``:
        progress as agent events, the answer as one chunk; see ``_adapters/tasks.py``)."""
        if self.task_poll_interval is not None:
            return task_stream(client, request, self.policy, self.task_poll_interval)
        return client.stream(request, **self.policy)

    def _aopen(
        self, client: LyzrClient, request: AgentRequest
    ) -> AsyncEventStream | AsyncTaskEventStream:
        if self.task_poll_interval is not None:
            return atask_stream(client, request, self.policy, self.task_poll_interval)
        return client.astream(request, **self.policy)

    def _whole_task(self, client: LyzrClient, request: AgentRequest) -> ChatResult:
        """``whole`` with ``run_as_task``: the task's progress and server-side tool activity
        reported as they come, then its answer."""
        assert self.task_poll_interval is not None
        with task_stream(client, request, self.policy, self.task_poll_interval) as events:
            for event in events:
                if isinstance(event, (ToolActivity, AgentEvent)):
                    self.activity.report(event)
            response = events.response()
        return self._result(response, events.stats.timing())

    async def _awhole_task(self, client: LyzrClient, request: AgentRequest) -> ChatResult:
        assert self.task_poll_interval is not None
        events = atask_stream(client, request, self.policy, self.task_poll_interval)
        async with events:
            async for event in events:
                if isinstance(event, (ToolActivity, AgentEvent)):
                    await self.activity.areport(event)
            response = events.response()
        return self._result(response, events.stats.timing())

    def whole(self, client: LyzrClient) -> ChatResult:
        """A one-shot call. The answer arrives whole, so its first token reaches the caller when
        all of it does: ``time_to_first_token`` equals ``total_time`` (request to parsed answer)."""
        request = self.files.attach(client, self.request) if self.files else self.request
        if self.task_poll_interval is not None:
            return self._whole_task(client, request)
        started = time.perf_counter()
        response = client.chat(request, **self.policy)
        elapsed = time.perf_counter() - started
        self._record(client, response)
        for activity in response.tool_activity:
            self.activity.report(activity)
        return self._result(response, {"time_to_first_token": elapsed, "total_time": elapsed})

    # -- async ------------------------------------------------------------------------------------
    async def astream(self, client: LyzrClient) -> AsyncGenerator[ChatGenerationChunk, None]:
        manager = self._run_manager
        tokens = manager if isinstance(manager, AsyncCallbackManagerForLLMRun) else None
        activity = self.activity
        bare = self.bare
        request = await self.files.aattach(client, self.request) if self.files else self.request
        carrier = client.agent_events is not None or self.task_poll_interval is not None
        async with self._aopen(client, request) as events:
            async for event in events:
                if bare and isinstance(event, TextDelta):  # the hot path: one chunk per delta
                    chunk = text_chunk(event.text)
                    yield chunk
                    if not activity.idle:
                        await activity.aflush(chunk)
                    continue
                if isinstance(event, (ToolActivity, AgentEvent)):
                    await activity.areport(event)
                    if carrier and not activity.idle:  # as in stream()
                        chunk = text_chunk("")
                        yield chunk
                        await activity.aflush(chunk)
                    continue
                for chunk in self.chunks(event):
                    if tokens is not None:
                        await tokens.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
                    if not activity.idle:
                        await activity.aflush(chunk)
                if self.stopped:
                    break
            tail = self._close(events.response(), events.stats.timing())
        self._record(client, events.response())
        for chunk in tail:
            if tokens is not None:
                await tokens.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
            await activity.aflush(chunk)

    async def awhole(self, client: LyzrClient) -> ChatResult:
        """Async :meth:`whole`."""
        request = await self.files.aattach(client, self.request) if self.files else self.request
        if self.task_poll_interval is not None:
            return await self._awhole_task(client, request)
        started = time.perf_counter()
        response = await client.achat(request, **self.policy)
        elapsed = time.perf_counter() - started
        self._record(client, response)
        for activity in response.tool_activity:
            await self.activity.areport(activity)
        return self._result(response, {"time_to_first_token": elapsed, "total_time": elapsed})


def custom_event(activity: ToolActivity | AgentEvent) -> tuple[str, dict[str, Any]]:
    """The custom event (name, data) for one report of server-side tool activity, or of the
    agent's other progress (its events channel: ``lyzr_agent_event``)."""
    if isinstance(activity, AgentEvent):
        return "lyzr_agent_event", agent_event_fields(activity)
    data: dict[str, Any] = {"name": activity.name, "raw": dict(activity.raw)}
    if activity.phase == "call":
        data["arguments"] = activity.arguments
        return "lyzr_tool_call", data
    data["result"] = activity.result
    return "lyzr_tool_result", data


def graph_writer() -> Callable[[Any], None] | None:
    """LangGraph's stream writer when this call runs inside a graph node, else None: the same
    events then also reach ``graph.stream(..., stream_mode="custom")``."""
    try:
        from langgraph.config import get_stream_writer
    except ImportError:
        return None
    try:
        return get_stream_writer()
    except (RuntimeError, KeyError):  # not inside a graph run (no config, or not LangGraph's)
        return None


class ActivityReporter:
    """Reports server-side tool activity as custom events of the chat model's own run.

    With a run manager (``invoke``, LangChain's event protocol paths), the events go to its
    handlers under its run id. LangChain's ``stream()``/``astream()`` do not hand ``_stream`` a
    run manager (langchain-core 1.x); they stamp every chunk ``_stream`` yields with
    ``f"{LC_ID_PREFIX}-{run_id}"`` before passing it on. There the run id is read from the first
    chunk, the handlers are configured from the call's config as ``stream()`` configures them
    (``configure``), and activity seen before the first chunk waits for it.
    """

    __slots__ = ("_configure", "_manager", "_pending", "_run_id", "idle")

    def __init__(
        self,
        run_manager: RunManager | None,
        configure: Callable[[bool], BaseCallbackManager],
    ) -> None:
        self._configure = configure
        self._pending: list[ToolActivity | AgentEvent] = []
        self._manager: BaseCallbackManager | None = None
        self._run_id = run_manager.run_id if run_manager is not None else None
        if run_manager is not None:
            manager_class = (
                AsyncCallbackManager
                if isinstance(run_manager, AsyncCallbackManagerForLLMRun)
                else CallbackManager
            )
            self._manager = manager_class(
                handlers=run_manager.handlers,
                inheritable_handlers=run_manager.inheritable_handlers,
                parent_run_id=run_manager.parent_run_id,
                tags=run_manager.tags,
                inheritable_tags=run_manager.inheritable_tags,
                metadata=run_manager.metadata,
                inheritable_metadata=run_manager.inheritable_metadata,
            )
        #: Nothing waits and the run id is known: the chunks need not be looked at.
        self.idle = self._run_id is not None

    def _learn(self, chunk: ChatGenerationChunk) -> bool:
        """Whether the run id is known (read from a chunk LangChain has stamped)."""
        if self._run_id is None:
            message_id = chunk.message.id or ""
            prefix = f"{LC_ID_PREFIX}-"
            if message_id.startswith(prefix):
                try:
                    self._run_id = UUID(message_id.removeprefix(prefix))
                except ValueError:
                    return False
        self.idle = self._run_id is not None and not self._pending
        return self._run_id is not None

    def _manager_for(self, is_async: bool) -> BaseCallbackManager:
        if self._manager is None:
            self._manager = self._configure(is_async)
        return self._manager

    def _queue(self, activity: ToolActivity | AgentEvent) -> bool:
        """Queue one report; whether it can go now (the run id is known)."""
        self._pending.append(activity)
        self.idle = False
        return self._run_id is not None

    def _taken(self) -> list[tuple[str, dict[str, Any]]]:
        """The queued reports as custom events (name, data), the queue emptied."""
        events = [custom_event(activity) for activity in self._pending]
        self._pending.clear()
        self.idle = True
        return events

    # The sync and async forms differ only in how the callbacks are called.
    def report(self, activity: ToolActivity | AgentEvent) -> None:
        if self._queue(activity):
            self._send()

    def flush(self, chunk: ChatGenerationChunk) -> None:
        if self._learn(chunk) and self._pending:
            self._send()

    def _send(self) -> None:
        manager = self._manager_for(False)
        assert isinstance(manager, CallbackManager)
        writer = graph_writer()
        for name, data in self._taken():
            manager.on_custom_event(name, data, run_id=self._run_id)
            if writer is not None:
                writer({"event": name, **data})

    async def areport(self, activity: ToolActivity | AgentEvent) -> None:
        if self._queue(activity):
            await self._asend()

    async def aflush(self, chunk: ChatGenerationChunk) -> None:
        if self._learn(chunk) and self._pending:
            await self._asend()

    async def _asend(self) -> None:
        manager = self._manager_for(True)
        assert isinstance(manager, AsyncCallbackManager)
        writer = graph_writer()
        for name, data in self._taken():
            await manager.on_custom_event(name, data, run_id=self._run_id)
            if writer is not None:
                writer({"event": name, **data})
