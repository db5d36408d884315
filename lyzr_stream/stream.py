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
from contextlib import aclosing
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from .dialects.base import HttpRequest, ParsedEvent, StreamFailure, StreamParser
from .errors import APIResponseValidationError, LyzrError
from .events import ReasoningDelta, StreamEnd, StreamEvent, TextDelta, ToolCallRequest
from .local_tools import check_tool_names
from .readahead import ReadAhead
from .request import AgentRequest
from .response import AgentResponse, ResponseBuilder
from .retry import RetryPolicy
from .timeouts import Timeouts
from .transport import (
    ERROR_BODY_LIMIT,
    Deadline,
    build_request,
    check_redirect,
    encode_body,
    log_retry,
    map_transport_error,
    set_body_read_timeout,
    status_error,
    timeout_error,
)

if TYPE_CHECKING:
    from .pools import AsyncPools
    from .settings import ClientSettings

__all__ = ["AsyncEventStream", "EventStream", "StreamStats", "coalesce_events"]


def coalesce_events(events: list[ParsedEvent]) -> list[ParsedEvent]:
    """Merge adjacent text (and adjacent reasoning) deltas decoded from the same read.

    Zero latency: only what is already in hand is merged; nothing waits for more bytes.
    """
    if len(events) < 2:
        return events
    out: list[ParsedEvent] = []
    run: list[str] = []
    run_type: type | None = None
    for event in events:
        kind = type(event)
        if kind is run_type:
            run.append(event.text)  # type: ignore[union-attr]
            continue
        if run:
            out.append(run_type(run[0] if len(run) == 1 else "".join(run)))  # type: ignore[misc]
            run = []
        if kind is TextDelta or kind is ReasoningDelta:
            run_type = kind
            run.append(event.text)  # type: ignore[union-attr]
        else:
            run_type = None
            out.append(event)
    if run:
        out.append(run_type(run[0] if len(run) == 1 else "".join(run)))  # type: ignore[misc]
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

    def __init__(
        self,
        settings: ClientSettings,
        request: AgentRequest,
        http_request: HttpRequest,
        url: str,
        timeouts: Timeouts,
        retry: RetryPolicy,
    ) -> None:
        self.request = request
        self._settings = settings
        self._http_request = http_request
        self._url = url
        self._content = encode_body(http_request)
        self._timeouts = timeouts
        self._retry = retry
        self._builder = ResponseBuilder()
        self._texts = self._builder.texts
        self._delivered = False
        self._coalesce = settings.coalesce
        self.stats = StreamStats()
        self.finished = False
        self._failure: LyzrError | None = None
        self._deadline = Deadline(timeouts.total)

    # -- what the caller may read ------------------------------------------------------------
    @property
    def text(self) -> str:
        """The answer text handed to the caller so far."""
        return "".join(self._texts)

    @property
    def session_id(self) -> str:
        return str(self.request.session_id)

    def response(self) -> AgentResponse:
        """The turn so far as an :class:`AgentResponse` (complete once the stream ended)."""
        return self._builder.build(
            agent_id=self.request.agent_id,
            session_id=self.session_id,
            user_id=str(self.request.user_id),
        )

    # -- pure steps shared by both loops -----------------------------------------------------
    def _build(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        self.stats.attempts += 1
        return build_request(client, self._http_request, self._url, self._timeouts, self._content)

    def _parser_for(self, response: httpx.Response) -> StreamParser:
        idle = self._timeouts.read
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
            kind = type(event)
            if kind is TextDelta:
                self._texts.append(event.text)  # type: ignore[union-attr]
                if self.stats.first_token_at is None:
                    self.stats.first_token_at = time.monotonic()
            elif kind is StreamFailure:
                self._failure = event.error  # type: ignore[union-attr]
                break
            elif kind is ToolCallRequest:
                try:
                    check_tool_names(event, self.request.tools)  # type: ignore[arg-type]
                except LyzrError as error:
                    self._failure = error
                    break
                self._builder.add(event)  # type: ignore[arg-type]
            else:
                self._builder.add(event)  # type: ignore[arg-type]
                if kind is StreamEnd:
                    self.finished = True
                    self.stats.ended_at = time.monotonic()
            out.append(event)  # type: ignore[arg-type]
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

    def _retry_delay(self, error: LyzrError) -> float | None:
        """Seconds to wait before the next attempt, or None to raise ``error`` now."""
        if self._delivered:
            return None
        delay = self._retry.delay(self.stats.attempts, error)
        if delay is None:
            return None
        remaining = self._deadline.remaining()
        if remaining is not None and delay >= remaining:
            return None
        log_retry(self.stats.attempts, error, delay)
        return delay

    def _final(self, error: LyzrError) -> LyzrError:
        error.partial_text = self.text
        self.stats.ended_at = time.monotonic()
        return error

    def _start(self) -> None:
        self._deadline = Deadline(self._timeouts.total)
        self._failure = None
        self.stats.started_at = time.monotonic()


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


class EventStream(_StreamState):
    """Events of one streamed turn, read synchronously. Iterate it once."""

    def __init__(self, http: httpx.Client, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self._http = http
        self._iterator = self._events()

    def __iter__(self) -> Iterator[StreamEvent]:
        return self._iterator

    def __next__(self) -> StreamEvent:
        return next(self._iterator)

    def close(self) -> None:
        """Stop reading and close the HTTP response (idempotent)."""
        self._iterator.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def until_done(self) -> AgentResponse:
        """Read the rest of the stream and return the whole turn."""
        for _ in self._iterator:
            pass
        return self.response()

    def _events(self) -> Generator[StreamEvent, None, None]:
        self._start()
        while True:
            try:
                yield from self._attempt()
                return
            except LyzrError as error:
                delay = self._retry_delay(error)
                if delay is None:
                    raise self._final(error) from error.__cause__
                time.sleep(delay)

    def _attempt(self) -> Generator[StreamEvent, None, None]:
        in_body = False
        response: httpx.Response | None = None
        try:
            response = self._http.send(self._build(self._http), stream=True)
            if response.status_code >= 300:
                check_redirect(response)
                raise status_error(response, _read_capped(response))
            in_body = True
            parser = self._parser_for(response)
            for chunk in response.iter_bytes():
                events = parser.feed(chunk)
                if events:
                    yield from self._accept(events)
                    self._raise_failure()
                self._check_deadline()
            yield from self._accept(_end_of_body(parser, response))
            self._raise_failure()
        except httpx.HTTPError as exc:
            raise map_transport_error(exc, in_body=in_body, deadline=self._deadline) from exc
        finally:
            if response is not None:
                response.close()


class AsyncEventStream(_StreamState):
    """Events of one streamed turn, read asynchronously. Iterate it once."""

    def __init__(self, pools: AsyncPools, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self._pools = pools
        self._iterator = self._events()

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._iterator

    async def __anext__(self) -> StreamEvent:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        """Stop reading and close the HTTP response (idempotent)."""
        await self._iterator.aclose()

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def until_done(self) -> AgentResponse:
        """Read the rest of the stream and return the whole turn."""
        async for _ in self._iterator:
            pass
        return self.response()

    async def _events(self) -> AsyncGenerator[StreamEvent, None]:
        self._start()
        while True:
            try:
                async with aclosing(self._attempt()) as attempt:
                    async for event in attempt:
                        yield event
                return
            except LyzrError as error:
                delay = self._retry_delay(error)
                if delay is None:
                    raise self._final(error) from error.__cause__
                await asyncio.sleep(delay)

    async def _attempt(self) -> AsyncGenerator[StreamEvent, None]:
        in_body = False
        response: httpx.Response | None = None
        reader: ReadAhead | None = None
        http, shard = self._pools.acquire()
        try:
            response = await http.send(self._build(http), stream=True)
            if response.status_code >= 300:
                check_redirect(response)
                raise status_error(response, await _aread_capped(response))
            in_body = True
            parser = self._parser_for(response)
            chunks: AsyncIterator[bytes]
            if self._coalesce:
                reader = ReadAhead(response.aiter_bytes())  # type: ignore[arg-type]
                chunks = reader.batches()
            else:
                chunks = response.aiter_bytes()
            async for chunk in chunks:
                events = parser.feed(chunk)
                if events:
                    for event in self._accept(events):
                        yield event
                    self._raise_failure()
                self._check_deadline()
            for event in self._accept(_end_of_body(parser, response)):
                yield event
            self._raise_failure()
        except httpx.HTTPError as exc:
            raise map_transport_error(exc, in_body=in_body, deadline=self._deadline) from exc
        finally:
            self._pools.release(shard)
            if response is not None:
                # First the response (from this task: a read in flight in the read-ahead task
                # fails at once), then the read-ahead task, which is then never inside httpcore
                # when cancelled (cancelling it mid-read leaves the pooled connection busy).
                await response.aclose()
            if reader is not None:
                await reader.aclose()


def _read_capped(response: httpx.Response) -> bytes:
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= ERROR_BODY_LIMIT:
            break
    return body[:ERROR_BODY_LIMIT]


async def _aread_capped(response: httpx.Response) -> bytes:
    body = b""
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= ERROR_BODY_LIMIT:
            break
    return body[:ERROR_BODY_LIMIT]
