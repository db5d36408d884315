"""One streamed agent turn: :class:`EventStream` (sync) and :class:`AsyncEventStream` (async).

Both iterate normalized events and share every decision (what to deliver, when to retry, which
error to raise) through :class:`_StreamState`; the loops themselves only do I/O. The request is
sent when iteration starts. Leaving early (``break``, ``close()``, an exception, task
cancellation) closes the HTTP response at once, so no pooled connection is leaked; use them as
context managers to make that immediate even when the loop is left by ``break``.

Retries happen only while nothing has been handed to the caller. Once an event has been yielded,
a failure raises at once, with the text delivered so far in ``partial_text``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING

import httpx

from ._errors import APIResponseValidationError, APITimeoutError, LyzrError
from ._events import ReasoningDelta, StreamEnd, StreamEvent, TextDelta
from ._http.connections import AsyncClosingContext, ClosingContext
from ._http.readahead import ReadAhead
from ._http.send import (
    END_DRAIN_SECONDS,
    ERROR_BODY_LIMIT,
    Deadline,
    RetryStep,
    aclose_if_overlong,
    adrain_after_end,
    build_request,
    check_redirect,
    close_if_overlong,
    drain_after_end,
    map_transport_error,
    retry_step,
    set_body_read_timeout,
    status_error,
    timeout_error,
)
from ._response import AgentResponse, ResponseBuilder
from .dialects._base import ParsedEvent, StreamFailure, StreamParser

if TYPE_CHECKING:
    from ._agent_stop import AgentStopper
    from ._call_plan import CallPlan
    from ._http.pools import AsyncPools

__all__ = [
    "AsyncEventStream",
    "EventStream",
    "StreamStats",
    "aread_capped",
    "coalesce_events",
    "read_capped",
]


def coalesce_events(events: list[ParsedEvent]) -> list[ParsedEvent]:
    """Merge adjacent text (and adjacent reasoning) deltas decoded from the same read.

    Zero latency: only what is already in hand is merged; nothing waits for more bytes.
    """
    if len(events) < 2:
        return events
    out: list[ParsedEvent] = []
    # Open runs. When both are open the reasoning run came first: a reasoning delta closes an
    # open text run before it starts one. So text, by far the most frequent event, never
    # checks anything: one isinstance and an append. (Closing a run is written inline: this
    # is the per-token path, and a call per run would cost more than the merge saves.)
    thoughts: list[str] = []
    texts: list[str] = []
    for event in events:
        if isinstance(event, TextDelta):
            texts.append(event.text)
        elif isinstance(event, ReasoningDelta):
            if texts:
                if thoughts:
                    out.append(ReasoningDelta("".join(thoughts)))
                    thoughts = []
                out.append(TextDelta("".join(texts)))
                texts = []
            thoughts.append(event.text)
        else:
            if thoughts:
                out.append(ReasoningDelta("".join(thoughts)))
                thoughts = []
            if texts:
                out.append(TextDelta("".join(texts)))
                texts = []
            out.append(event)
    if thoughts:
        out.append(ReasoningDelta("".join(thoughts)))
    if texts:
        out.append(TextDelta("".join(texts)))
    return out


class StreamStats:
    """Timing of one stream, in seconds from when the request was sent (monotonic clock)."""

    __slots__ = ("attempts", "ended_at", "first_token_at", "started_at")

    def __init__(self) -> None:
        self.started_at = time.monotonic()
        self.first_token_at: float | None = None
        self.ended_at: float | None = None
        self.attempts = 0

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started_at

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at

    def timing(self) -> dict[str, float | None]:
        """``time_to_first_token`` and ``total_time``, as the framework results report them."""
        return {"time_to_first_token": self.time_to_first_token, "total_time": self.duration}


class _StreamState:
    """What the sync and async loops share: settings, bookkeeping, and the pure steps."""

    def __init__(self, plan: CallPlan) -> None:
        self.request = plan.request
        self._plan = plan
        self._settings = plan.settings
        self._builder = ResponseBuilder()
        self._texts = self._builder.texts
        self._delivered = False
        self._coalesce = plan.settings.coalesce
        self.stats = StreamStats()
        self.finished = False
        self._failure: LyzrError | None = None
        self._deadline = Deadline(plan.timeouts.total)
        self._stopper = plan.stopper
        #: A request went out and the server has not ended its answer (end marker, error
        #: status, error event, broken connection): the agent may still be running.
        self._agent_running = False

    # -- what the caller may read ------------------------------------------------------------
    @property
    def text(self) -> str:
        """The answer text handed to the caller so far."""
        return "".join(self._texts)

    @property
    def session_id(self) -> str:
        return self._plan.session_id

    def response(self) -> AgentResponse:
        """The turn so far as an :class:`AgentResponse` (complete once the stream ended)."""
        return self._builder.build(
            agent_id=self.request.agent_id,
            session_id=self.session_id,
            user_id=str(self.request.user_id),
        )

    # -- pure steps shared by both loops -----------------------------------------------------
    def _parser_for(self, response: httpx.Response) -> StreamParser:
        idle = self._plan.timeouts.read
        remaining = self._deadline.remaining()
        if remaining is not None:
            idle = remaining if idle is None else min(idle, remaining)
        set_body_read_timeout(response, idle)
        return self._settings.dialect.stream_parser(
            response.headers.get("content-type", ""),
            max_event_bytes=self._settings.max_event_bytes,
            coalesce=self._coalesce,
        )

    def _accept(self, parsed: list[ParsedEvent]) -> list[StreamEvent]:
        """Record one read's events; return those to deliver. A failure is raised after them."""
        if self._coalesce:
            parsed = coalesce_events(parsed)
        out: list[StreamEvent] = []
        for event in parsed:
            if isinstance(event, TextDelta):
                self._texts.append(event.text)
                if self.stats.first_token_at is None:
                    self.stats.first_token_at = time.monotonic()
            elif isinstance(event, StreamFailure):
                self._failure = event.error
                break
            else:
                self._builder.add(event)
                if isinstance(event, StreamEnd):
                    self.finished = True
                    self.stats.ended_at = time.monotonic()
            out.append(event)
        if out:
            self._delivered = True
        return out

    def _check_deadline(self) -> None:
        if self._deadline.expired():
            raise timeout_error("total")

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _retry_plan(self, error: LyzrError) -> RetryStep | None:
        """How to go on after ``error``: None to raise it now."""
        if not isinstance(error, APITimeoutError):
            self._agent_running = False  # the server ended this attempt itself
        if self._delivered:
            return None
        return retry_step(self._plan.retry, self.stats.attempts, error, self._deadline)

    def _final(self, error: LyzrError) -> LyzrError:
        error.partial_text = self.text
        self.stats.ended_at = time.monotonic()
        return error

    def _start(self) -> None:
        self._deadline = Deadline(self._plan.timeouts.total)
        self._failure = None
        self.stats.started_at = time.monotonic()

    def _stop_due(self) -> AgentStopper | None:
        """The stopper to call when the stream is being left while the agent may still be
        running: the caller left (break, close, cancel, Ctrl-C) or a client-side timeout fired,
        before the end. None when there is nothing to stop."""
        if self._agent_running and not self.finished:
            return self._stopper
        return None

    def _map(self, exc: httpx.HTTPError, in_body: bool) -> LyzrError:
        return map_transport_error(
            exc, in_body=in_body, deadline=self._deadline, secrets=self._plan.secrets
        )


def _end_of_body(parser: StreamParser, response: httpx.Response) -> list[ParsedEvent]:
    """The parser's last events; a body with no bytes at all is an error in every dialect."""
    if response.num_bytes_downloaded == 0:
        content_type = response.headers.get("content-type", "none")
        return [
            StreamFailure(
                APIResponseValidationError(
                    f"the service answered HTTP {response.status_code} with an empty body "
                    f"(content type {content_type!r}); no answer was produced"
                )
            )
        ]
    return parser.finish()


class EventStream(_StreamState, ClosingContext):
    """Events of one streamed turn, read synchronously. Iterate it once."""

    def __init__(self, http: httpx.Client, plan: CallPlan) -> None:
        super().__init__(plan)
        self._http = http
        self._iterator = self._events()

    def __iter__(self) -> Iterator[StreamEvent]:
        return self._iterator

    def __next__(self) -> StreamEvent:
        return next(self._iterator)

    def close(self) -> None:
        """Stop reading and close the HTTP response (idempotent)."""
        self._iterator.close()

    def until_done(self) -> AgentResponse:
        """Read the rest of the stream and return the whole turn."""
        for _ in self._iterator:
            pass
        return self.response()

    def _events(self) -> Generator[StreamEvent, None, None]:
        self._start()
        if self._stopper is not None:
            self._stopper.settle(self.session_id)
        try:
            while True:
                try:
                    yield from self._attempt()
                    return
                except LyzrError as error:
                    step = self._retry_plan(error)
                    if step is None:
                        raise self._final(error) from error.__cause__
                    time.sleep(step.delay)
                    if step.then_raise is not None:
                        raise self._final(step.then_raise) from error
        finally:
            stopper = self._stop_due()
            if stopper is not None:
                stopper.stop(self.session_id)

    def _attempt(self) -> Generator[StreamEvent, None, None]:
        in_body = False
        response: httpx.Response | None = None
        try:
            self._agent_running = True
            plan = self._plan
            request = build_request(
                self._http, plan.http_request, plan.url, plan.timeouts, plan.content, self._deadline
            )
            self.stats.attempts += 1
            response = self._http.send(request, stream=True)
            if response.status_code >= 300:
                self._agent_running = False  # refused: nothing runs, whatever the body does
                check_redirect(response)
                body = read_capped(response, ERROR_BODY_LIMIT, self._deadline)
                raise status_error(response, body)
            in_body = True
            parser = self._parser_for(response)
            chunks = response.iter_bytes()
            for chunk in chunks:
                events = parser.feed(chunk)
                if events:
                    yield from self._accept(events)
                    self._raise_failure()
                    if self.finished:
                        # The end marker ends the answer, whatever follows it on the wire.
                        drain_after_end(response, chunks)
                        return
                self._check_deadline()
            yield from self._accept(_end_of_body(parser, response))
            self._raise_failure()
            close_if_overlong(response)
        except httpx.HTTPError as exc:
            raise self._map(exc, in_body) from exc
        finally:
            if response is not None:
                response.close()


class AsyncEventStream(_StreamState, AsyncClosingContext):
    """Events of one streamed turn, read asynchronously. Iterate it once."""

    def __init__(self, pools: AsyncPools, plan: CallPlan) -> None:
        super().__init__(plan)
        self._pools = pools
        self._iterator = self._events()

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._iterator

    async def __anext__(self) -> StreamEvent:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        """Stop reading and close the HTTP response (idempotent)."""
        await self._iterator.aclose()

    async def until_done(self) -> AgentResponse:
        """Read the rest of the stream and return the whole turn."""
        async for _ in self._iterator:
            pass
        return self.response()

    async def _events(self) -> AsyncGenerator[StreamEvent, None]:
        # One async generator for the whole stream, attempts inline: a nested generator would
        # be finalized on its own when an abandoned stream is garbage-collected, concurrently
        # with this one ("aclose(): asynchronous generator is already running").
        self._start()
        if self._stopper is not None:
            await self._stopper.asettle(self.session_id)
        try:
            while True:
                in_body = False
                response: httpx.Response | None = None
                reader: ReadAhead | None = None
                http, shard = self._pools.acquire()
                try:
                    try:
                        self._agent_running = True
                        plan = self._plan
                        request = build_request(
                            http, plan.http_request, plan.url, plan.timeouts, plan.content,
                            self._deadline,
                        )
                        self.stats.attempts += 1
                        response = await http.send(request, stream=True)
                        if response.status_code >= 300:
                            self._agent_running = False
                            check_redirect(response)
                            body = await aread_capped(response, ERROR_BODY_LIMIT, self._deadline)
                            raise status_error(response, body)
                        in_body = True
                        parser = self._parser_for(response)
                        if self._coalesce:
                            reader = ReadAhead(response.aiter_bytes())
                            while (batch := await reader.next_batch()) is not None:
                                events = parser.feed(batch)
                                if events:
                                    for event in self._accept(events):
                                        yield event
                                    self._raise_failure()
                                    if self.finished:
                                        if await reader.finish(END_DRAIN_SECONDS):
                                            await aclose_if_overlong(response)
                                        return
                                self._check_deadline()
                        else:
                            chunks = response.aiter_bytes()
                            async for chunk in chunks:
                                events = parser.feed(chunk)
                                if events:
                                    for event in self._accept(events):
                                        yield event
                                    self._raise_failure()
                                    if self.finished:
                                        await adrain_after_end(response, chunks)
                                        return
                                self._check_deadline()
                        for event in self._accept(_end_of_body(parser, response)):
                            yield event
                        self._raise_failure()
                        await aclose_if_overlong(response)
                        return
                    except httpx.HTTPError as exc:
                        raise self._map(exc, in_body) from exc
                except LyzrError as error:
                    step = self._retry_plan(error)
                    if step is None:
                        raise self._final(error) from error.__cause__
                    failed = error
                finally:
                    self._pools.release(shard)
                    if response is not None or reader is not None:
                        await _cleanup_fully(response, reader)
                await asyncio.sleep(step.delay)
                if step.then_raise is not None:
                    raise self._final(step.then_raise) from failed
        finally:
            stopper = self._stop_due()
            if stopper is not None:
                stopper.astop(self._pools, self.session_id)


async def _close_body(response: httpx.Response | None, reader: ReadAhead | None) -> None:
    if response is not None:
        # First the response (from this task: a read in flight in the read-ahead task fails at
        # once), then the read-ahead task, which is then never inside httpcore when it ends
        # (cancelling it mid-read would leave the pooled connection busy).
        await response.aclose()
    if reader is not None:
        await reader.aclose()


async def _cleanup_fully(response: httpx.Response | None, reader: ReadAhead | None) -> None:
    """Close the body to its end even if this task is cancelled again meanwhile.

    Nested timeouts, TaskGroup teardown and shutdown cancel twice with no await in between; a
    second cancellation landing inside the cleanup would leave the connection in use and the
    read-ahead task blocked. The cleanup runs in its own task, shielded; a cancellation that
    arrives meanwhile is re-raised once it is done.
    """
    cleanup = asyncio.ensure_future(_close_body(response, reader))
    cancelled = False
    while not cleanup.done():
        try:
            await asyncio.shield(cleanup)
        except asyncio.CancelledError:
            if cleanup.cancelled():
                break
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    if not cleanup.cancelled():
        cleanup.result()


def read_capped(response: httpx.Response, limit: int, deadline: Deadline) -> bytes:
    """At most ``limit`` bytes of a body, within the total deadline (the rest is not read)."""
    capped = _CappedBody(response, limit, deadline)
    for chunk in response.iter_bytes():
        if capped.full_after(chunk):
            break
    return capped.body()


async def aread_capped(response: httpx.Response, limit: int, deadline: Deadline) -> bytes:
    """Async form of :func:`read_capped`."""
    capped = _CappedBody(response, limit, deadline)
    async for chunk in response.aiter_bytes():
        if capped.full_after(chunk):
            break
    return capped.body()


class _CappedBody:
    """The bookkeeping of :func:`read_capped` (sans-I/O): chunks kept up to a size limit."""

    __slots__ = ("_deadline", "_limit", "_parts", "_size")

    def __init__(self, response: httpx.Response, limit: int, deadline: Deadline) -> None:
        _cap_body_timeout(response, deadline)
        self._parts: list[bytes] = []
        self._size = 0
        self._limit = limit
        self._deadline = deadline

    def full_after(self, chunk: bytes) -> bool:
        """Keep ``chunk``; True once the limit is reached (read no more). Past the total
        deadline: :class:`APITimeoutError`."""
        self._parts.append(chunk)
        self._size += len(chunk)
        if self._size >= self._limit:
            return True
        if self._deadline.expired():
            raise timeout_error("total")
        return False

    def body(self) -> bytes:
        return b"".join(self._parts)[: self._limit]


def _cap_body_timeout(response: httpx.Response, deadline: Deadline) -> None:
    remaining = deadline.remaining()
    if remaining is not None:
        timeouts = response.request.extensions.get("timeout")
        current = timeouts.get("read") if isinstance(timeouts, dict) else None
        set_body_read_timeout(response, remaining if current is None else min(current, remaining))
