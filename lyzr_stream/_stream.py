"""One streamed agent turn: :class:`EventStream` (sync) and :class:`AsyncEventStream` (async).

A stream is built by composition (``LyzrClient.stream`` does it): a :class:`StreamState` holds
the answer so far and the pure steps; the HTTP event source (:func:`http_events` /
:func:`ahttp_events`) sends the call on the one request path and turns its bytes into events;
the agent-events merge and tracing, when on, each wrap the events they are given; the
:class:`EventStream` facade iterates whatever it was given and reads the state. No layer reaches
into another's attributes.

The request is sent when iteration starts. Leaving early (``break``, ``close()``, an exception,
task cancellation) closes the HTTP response at once, so no pooled connection is leaked; use the
streams as context managers to make that immediate even when the loop is left by ``break``.
Retries happen only while nothing has been handed to the caller: once an event has been
yielded, a failure raises at once, with the text delivered so far in ``partial_text``.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar, overload

import httpx

from ._errors import APIResponseValidationError, APITimeoutError, LyzrError
from ._events import ReasoningDelta, StreamEnd, StreamEvent, TextDelta
from ._http.body import (
    END_DRAIN_SECONDS,
    aclose_if_overlong,
    adrain_after_end,
    close_if_overlong,
    drain_after_end,
    set_body_read_timeout,
)
from ._http.connections import AsyncClosingContext, ClosingContext
from ._http.limits import Attempts, Deadline, timeout_error
from ._http.readahead import ReadAhead
from ._http.send import HttpCall, aopen_response, open_response
from ._response import AgentResponse, ResponseBuilder
from .dialects._base import ParsedEvent, StreamFailure, StreamParser

if TYPE_CHECKING:
    from ._agent_stop import AgentStopper
    from ._http.pools import AsyncPools
    from ._request import AgentRequest
    from ._settings import ClientSettings

T = TypeVar("T")

__all__ = [
    "AgentCall",
    "AsyncEventStream",
    "EventStream",
    "StreamState",
    "StreamStats",
    "ahttp_events",
    "coalesce_events",
    "http_events",
]


@dataclass(frozen=True, slots=True)
class AgentCall:
    """One agent call, ready to send; built once by ``LyzrClient`` for a stream or a one-shot
    chat, and only read afterwards (a retry sends exactly what the first attempt sent)."""

    settings: ClientSettings
    #: The caller's request with the user and session ids filled in, accepted by the dialect.
    request: AgentRequest
    http: HttpCall
    #: Asks the service to stop the agent when a stream is left early (``stop_on_exit``).
    stopper: AgentStopper | None

    @property
    def session_id(self) -> str:
        return str(self.request.session_id)


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


class StreamState:
    """The answer of one stream so far, and the pure steps its event source takes (the sync and
    async sources share every decision here and only do the I/O themselves)."""

    __slots__ = (
        "_builder",
        "_failure",
        "_texts",
        "agent_running",
        "call",
        "closing",
        "coalesce",
        "delivered",
        "finished",
        "stats",
    )

    def __init__(self, call: AgentCall) -> None:
        self.call = call
        self._builder = ResponseBuilder()
        self._texts = self._builder.texts
        self.coalesce = call.settings.coalesce
        self._failure: LyzrError | None = None
        #: Some event reached the caller: a failure is raised now, never retried.
        self.delivered = False
        self.finished = False
        self.stats = StreamStats()
        #: A request went out and the server has not ended its answer (end marker, error
        #: status, error event, broken connection): the agent may still be running.
        self.agent_running = False
        #: The body's close, left running by an async stream closed at a yield (awaited by
        #: :meth:`AsyncEventStream.aclose`).
        self.closing: asyncio.Future[None] | None = None

    async def closed(self) -> None:
        """Wait until the body of an async stream closed at a yield is closed too (even if
        this task is cancelled meanwhile: the cancellation is re-raised after)."""
        closing, self.closing = self.closing, None
        if closing is not None:
            await _until_done(closing)

    # -- what the caller may read ------------------------------------------------------------
    @property
    def request(self) -> AgentRequest:
        return self.call.request

    @property
    def text(self) -> str:
        """The answer text handed to the caller so far."""
        return "".join(self._texts)

    @property
    def session_id(self) -> str:
        return self.call.session_id

    def response(self) -> AgentResponse:
        """The turn so far as an :class:`AgentResponse` (complete once the stream ended)."""
        return self._builder.build(
            agent_id=self.request.agent_id,
            session_id=self.session_id,
            user_id=str(self.request.user_id),
        )

    def record(self, event: StreamEvent) -> None:
        """Add an event that reached the caller from another source (the agent-events
        channel) to the answer."""
        self._builder.add(event)

    # -- the steps of the event sources ------------------------------------------------------
    def start(self) -> Attempts:
        """The stream starts (iteration began): its retry rule and total deadline start now."""
        self._failure = None
        self.stats.started_at = time.monotonic()
        return self.call.http.attempts()

    def parser_for(self, response: httpx.Response, deadline: Deadline) -> StreamParser:
        idle = self.call.http.timeouts.read
        remaining = deadline.remaining()
        if remaining is not None:
            idle = remaining if idle is None else min(idle, remaining)
        set_body_read_timeout(response, idle)
        settings = self.call.settings
        return settings.dialect.stream_parser(
            response.headers.get("content-type", ""),
            max_event_bytes=settings.max_event_bytes,
            coalesce=self.coalesce,
        )

    def accept(self, parsed: list[ParsedEvent]) -> list[StreamEvent]:
        """Record one read's events; return those to deliver. A failure is raised after them."""
        if self.coalesce:
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
            self.delivered = True
        return out

    @staticmethod
    def check_deadline(deadline: Deadline) -> None:
        if deadline.expired():
            raise timeout_error("total")

    def raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def retry_delay(self, attempts: Attempts, error: LyzrError) -> float:
        """The wait before the next attempt after ``error``; raises it, with the text delivered
        so far, when it is not retried (the retry rule says no, or part of the answer reached
        the caller)."""
        if not isinstance(error, APITimeoutError):
            self.agent_running = False  # the server ended this attempt itself
        try:
            return attempts.delay_after(error, delivered=self.delivered)
        except LyzrError as final:
            raise self.final(final) from final.__cause__

    def final(self, error: LyzrError) -> LyzrError:
        """``error`` as the stream raises it: with the text delivered so far."""
        error.partial_text = self.text
        self.stats.ended_at = time.monotonic()
        return error

    def stop_due(self) -> AgentStopper | None:
        """The stopper to call when the stream is being left while the agent may still be
        running: the caller left (break, close, cancel, Ctrl-C) or a client-side timeout fired,
        before the end. None when there is nothing to stop."""
        if self.agent_running and not self.finished:
            return self.call.stopper
        return None


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


# -- the HTTP event source ---------------------------------------------------------------------
def http_events(state: StreamState, http: httpx.Client) -> Generator[StreamEvent, None, None]:
    """The events of ``state``'s call, read from the service (sync)."""
    attempts = state.start()
    stopper = state.call.stopper
    if stopper is not None:
        stopper.settle(state.session_id)
    try:
        while True:
            try:
                attempts.begin()
                yield from _attempt(state, http, attempts.deadline)
                return
            except LyzrError as error:
                delay = state.retry_delay(attempts, error)
            time.sleep(delay)
    finally:
        stopper = state.stop_due()
        if stopper is not None:
            stopper.stop(state.session_id)


def _attempt(
    state: StreamState, http: httpx.Client, deadline: Deadline
) -> Generator[StreamEvent, None, None]:
    call = state.call.http
    in_body = False
    response: httpx.Response | None = None
    try:
        state.agent_running = True
        state.stats.attempts += 1
        response = open_response(http, call, deadline)
        in_body = True
        parser = state.parser_for(response, deadline)
        chunks = response.iter_bytes()
        for chunk in chunks:
            events = parser.feed(chunk)
            if events:
                yield from state.accept(events)
                state.raise_failure()
                if state.finished:
                    # The end marker ends the answer, whatever follows it on the wire.
                    drain_after_end(response, chunks)
                    return
            state.check_deadline(deadline)
        yield from state.accept(_end_of_body(parser, response))
        state.raise_failure()
        close_if_overlong(response)
    except httpx.HTTPError as exc:
        raise call.map_error(exc, in_body=in_body, deadline=deadline) from exc
    finally:
        if response is not None:
            response.close()


async def ahttp_events(state: StreamState, pools: AsyncPools) -> AsyncGenerator[StreamEvent, None]:
    """The events of ``state``'s call, read from the service (async).

    One async generator for the whole stream, attempts inline: a nested generator would be
    finalized on its own when an abandoned stream is garbage-collected, concurrently with this
    one ("aclose(): asynchronous generator is already running").
    """
    attempts = state.start()
    stopper = state.call.stopper
    if stopper is not None:
        await stopper.asettle(state.session_id)
    call = state.call.http
    coalesce = state.coalesce
    pools.open_streams += 1
    try:
        while True:
            in_body = False
            response: httpx.Response | None = None
            reader: ReadAhead | None = None
            http, shard = pools.acquire()
            try:
                try:
                    attempts.begin()
                    deadline = attempts.deadline
                    state.agent_running = True
                    state.stats.attempts += 1
                    response = await aopen_response(http, call, deadline)
                    in_body = True
                    parser = state.parser_for(response, deadline)
                    batches = _Batches(response, coalesce)
                    reader = batches.reader
                    async for batch in batches:
                        events = parser.feed(batch)
                        if events:
                            for event in state.accept(events):
                                yield event
                            state.raise_failure()
                            if state.finished:
                                await batches.after_end()
                                return
                        state.check_deadline(deadline)
                    for event in state.accept(_end_of_body(parser, response)):
                        yield event
                    state.raise_failure()
                    await aclose_if_overlong(response)
                    return
                except httpx.HTTPError as exc:
                    raise call.map_error(exc, in_body=in_body, deadline=attempts.deadline) from exc
            except LyzrError as error:
                delay = state.retry_delay(attempts, error)
            except GeneratorExit:
                # Closed at a yield (aclose, or the loop finalizing a stream left unfinished,
                # at its shutdown too): finish without suspending. The body is closed by a
                # background task the pools wait for (and the facade's aclose awaits); a
                # second closer (the loop's shutdown_asyncgens, an outer generator) then finds
                # this generator done, never "already running".
                if response is not None or reader is not None:
                    state.closing = pools.run_in_background(
                        functools.partial(_close_body, response, reader)
                    )
                    response = reader = None
                raise
            finally:
                pools.release(shard)
                if response is not None or reader is not None:
                    await _cleanup_fully(response, reader)
            await asyncio.sleep(delay)
    finally:
        pools.open_streams -= 1
        stopper = state.stop_due()
        if stopper is not None:
            stopper.astop(pools, state.session_id)


class _Batches:
    """The body in the reads the parser is fed: with coalescing, what piled up since the last
    read (:class:`ReadAhead`); without, chunk by chunk. A plain async iterator, not a generator:
    the event loop never finalizes it on its own, apart from the stream that reads it."""

    __slots__ = ("_chunks", "_reader", "_response")

    def __init__(self, response: httpx.Response, coalesce: bool) -> None:
        self._response = response
        self._chunks = response.aiter_bytes()
        self._reader = ReadAhead(self._chunks) if coalesce else None

    @property
    def reader(self) -> ReadAhead | None:
        """The read-ahead task's reader, to close with the response (None without one)."""
        return self._reader

    def __aiter__(self) -> _Batches:
        return self

    async def __anext__(self) -> bytes:
        if self._reader is None:
            return await self._chunks.__anext__()
        batch = await self._reader.next_batch()
        if batch is None:
            raise StopAsyncIteration
        return batch

    async def after_end(self) -> None:
        """The end marker arrived: what follows it is drained briefly (the connection can then
        be reused), else the connection is closed."""
        if self._reader is None:
            await adrain_after_end(self._response, self._chunks)
        elif await self._reader.finish(END_DRAIN_SECONDS):
            await aclose_if_overlong(self._response)


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
    await _until_done(asyncio.ensure_future(_close_body(response, reader)))


async def _until_done(cleanup: asyncio.Future[None]) -> None:
    """Wait for ``cleanup`` to end, shielded; a cancellation meanwhile is re-raised after."""
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


# -- the facades ---------------------------------------------------------------------------------
class _FromState(Generic[T]):
    """A read-only attribute of a stream facade: the same attribute of its stream's state."""

    __slots__ = ("_name",)

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, facade: None, owner: type) -> _FromState[T]: ...

    @overload
    def __get__(self, facade: _StreamView, owner: type) -> T: ...

    def __get__(self, facade: _StreamView | None, owner: type) -> T | _FromState[T]:
        if facade is None:
            return self
        value: T = getattr(facade._state, self._name)
        return value


class _StreamView:
    """What both facades read from the stream's state."""

    __slots__ = ("_state",)

    #: The request as sent (user and session ids filled in).
    request: _FromState[AgentRequest] = _FromState()
    session_id: _FromState[str] = _FromState()
    #: The answer text handed to the caller so far.
    text: _FromState[str] = _FromState()
    stats: _FromState[StreamStats] = _FromState()
    #: The service ended the answer (its end marker arrived).
    finished: _FromState[bool] = _FromState()

    def __init__(self, state: StreamState) -> None:
        self._state = state

    def response(self) -> AgentResponse:
        """The turn so far as an :class:`AgentResponse` (complete once the stream ended)."""
        return self._state.response()


class EventStream(_StreamView, ClosingContext):
    """Events of one streamed turn, read synchronously. Iterate it once.

    Built by :meth:`LyzrClient.stream <lyzr_stream.LyzrClient.stream>` from the stream's state
    and the events to deliver (the HTTP event source, wrapped by the agent-events merge and
    tracing when they are on).
    """

    __slots__ = ("_events",)

    def __init__(self, state: StreamState, events: Generator[StreamEvent, None, None]) -> None:
        super().__init__(state)
        self._events = events

    def __iter__(self) -> Iterator[StreamEvent]:
        return self._events

    def __next__(self) -> StreamEvent:
        return next(self._events)

    def close(self) -> None:
        """Stop reading and close the HTTP response (idempotent)."""
        self._events.close()

    def until_done(self) -> AgentResponse:
        """Read the rest of the stream and return the whole turn."""
        for _ in self._events:
            pass
        return self._state.response()


class AsyncEventStream(_StreamView, AsyncClosingContext):
    """Events of one streamed turn, read asynchronously. Iterate it once."""

    __slots__ = ("_events",)

    def __init__(self, state: StreamState, events: AsyncGenerator[StreamEvent, None]) -> None:
        super().__init__(state)
        self._events = events

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._events

    async def __anext__(self) -> StreamEvent:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stop reading and close the HTTP response (idempotent)."""
        await self._events.aclose()
        await self._state.closed()

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._events.aclose()
        if t is not GeneratorExit:
            await self._state.closed()
        # else: a generator holding this stream is being closed (aclose, or the loop's
        # finalizer at its shutdown): it must not suspend here, or a second closer finds it
        # running. The body's close goes on in the background; the pools wait for it.

    async def until_done(self) -> AgentResponse:
        """Read the rest of the stream and return the whole turn."""
        async for _ in self._events:
            pass
        return self._state.response()
