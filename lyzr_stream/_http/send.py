"""The one request path: every HTTP call the client makes (an agent stream, a one-shot chat, a
file upload, a session route, a stop) is an :class:`HttpCall` sent here.

- :func:`open_response` sends a call and returns its response once the headers arrived; an error
  status is read (capped) and raised as its typed error, a transport exception mapped to the
  package's errors, in one place for the sync and async forms alike.
- :func:`fetch` is the one non-streamed send loop: the call's answer body, read capped at
  ``max_body`` within the total deadline, retried by the one rule (:class:`~.limits.Attempts`).
  Streams use :func:`open_response` inside their own loop (they deliver as they read) with the
  same :class:`~.limits.Attempts`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import aclosing, closing, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import httpx

from .._errors import APIResponseValidationError, LyzrError, excerpt, status_error
from .._files import StreamedBody
from .body import (
    ERROR_BODY_LIMIT,
    aclose_if_overlong,
    aread_capped,
    close_if_overlong,
    read_capped,
)
from .errors import check_redirect, decode_error_body, map_transport_error
from .limits import Attempts, Deadline, RetryHook, RetryPolicy, Timeouts

if TYPE_CHECKING:
    from ..dialects._base import HttpRequest
    from .pools import AsyncPools

__all__ = [
    "HttpCall",
    "afetch",
    "aopen_response",
    "build_request",
    "fetch",
    "logger",
    "open_response",
    "redact_headers",
]

logger = logging.getLogger("lyzr_stream")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HttpCall:
    """One HTTP call, ready to send: what every attempt sends and what bounds it. Frozen, so a
    retry sends exactly what the first attempt sent (a streamed body's files are read again, and
    refused if they changed)."""

    request: HttpRequest
    #: ``request.path`` made absolute.
    url: str
    #: The body: bytes encoded once for every attempt, or a :class:`StreamedBody` (an upload)
    #: that each attempt reads again from its files, in chunks.
    content: bytes | StreamedBody = field(repr=False)
    timeouts: Timeouts
    retry: RetryPolicy
    #: The largest answer body :func:`fetch` reads; a larger one is an error.
    max_body: int
    #: What must never appear in an error message (the key, header and cookie values).
    secrets: tuple[str, ...] = field(default=(), repr=False)
    #: Told of each retry (the client's tracing).
    on_retry: RetryHook | None = field(default=None, repr=False, compare=False)
    #: The call runs an agent (a stream or a one-shot chat): it is re-sent only when it
    #: provably started no run (:class:`~.limits.RetryPolicy`).
    runs_agent: bool = False

    def attempts(self) -> Attempts:
        """The retry rule of one sending of this call; its total deadline starts now."""
        return Attempts(
            self.retry,
            Deadline(self.timeouts.total),
            self.on_retry,
            runs_agent=self.runs_agent,
            secrets=self.secrets,
        )

    def map_error(self, exc: httpx.HTTPError, *, in_body: bool, deadline: Deadline) -> LyzrError:
        return map_transport_error(exc, in_body=in_body, deadline=deadline, secrets=self.secrets)


def build_request(
    http: httpx.Client | httpx.AsyncClient, call: HttpCall, deadline: Deadline | None = None
) -> httpx.Request:
    """The httpx request of ``call``. With a ``deadline``, no phase may wait past it (a retry
    gets only the time that is left)."""
    remaining = None if deadline is None else deadline.remaining()
    request = call.request
    headers = dict(request.headers)
    content = call.content
    body: bytes | Iterator[bytes] | AsyncIterator[bytes] | None
    if isinstance(content, StreamedBody):
        # A fresh reading per attempt; its length is known, so no chunked encoding.
        headers["content-length"] = str(content.length)
        body = content.achunks() if isinstance(http, httpx.AsyncClient) else content.chunks()
    else:
        body = content or None
    built = http.build_request(
        request.method,
        call.url,
        content=body,
        headers=headers,
        cookies=dict(request.cookies) or None,
        timeout=call.timeouts.to_httpx(remaining),
    )
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "lyzr_stream: %s %s headers=%s", built.method, built.url, redact_headers(built.headers)
        )
    return built


def _refused(response: httpx.Response, body: bytes, call: HttpCall) -> LyzrError:
    headers = response.headers
    decoded = decode_error_body(body, headers.get("content-type", ""))
    # Secrets the service echoes back are scrubbed once, where the error leaves the call
    # (Attempts.final).
    return status_error(response.status_code, headers, decoded, runs_agent=call.runs_agent)


@contextmanager
def _mapped(call: HttpCall, deadline: Deadline) -> Iterator[None]:
    """httpx's exceptions raised within, as the package's errors (nothing of the body was read
    yet: a read timeout here is the first-byte timeout)."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise call.map_error(exc, in_body=False, deadline=deadline) from exc


def _accepted(response: httpx.Response, call: HttpCall) -> bool:
    """Whether the answer has a success status."""
    logger.debug("lyzr_stream: %s -> %d", call.request.path, response.status_code)
    return response.status_code < 300


def open_response(http: httpx.Client, call: HttpCall, deadline: Deadline) -> httpx.Response:
    """Send ``call``; its response once the headers arrived, with a success status (the caller
    reads and closes it). An error status or a transport failure is raised as a typed error."""
    with _mapped(call, deadline):
        response = http.send(build_request(http, call, deadline), stream=True)
        if _accepted(response, call):
            return response
        with closing(response):
            check_redirect(response)
            body = read_capped(response, ERROR_BODY_LIMIT, deadline)
    raise _refused(response, body, call)


async def aopen_response(
    http: httpx.AsyncClient, call: HttpCall, deadline: Deadline
) -> httpx.Response:
    """Async form of :func:`open_response`."""
    with _mapped(call, deadline):
        response = await http.send(build_request(http, call, deadline), stream=True)
        if _accepted(response, call):
            return response
        async with aclosing(response):
            check_redirect(response)
            body = await aread_capped(response, ERROR_BODY_LIMIT, deadline)
    raise _refused(response, body, call)


def _whole(body: bytes, call: HttpCall) -> bytes:
    """The answer's body; one larger than the call allows is an error (it was read capped)."""
    if len(body) > call.max_body:
        raise APIResponseValidationError(
            f"the answer exceeded {call.max_body} bytes (max_event_bytes); raise "
            "max_event_bytes if answers this large are expected",
            body_excerpt=excerpt(body[:400]),
        )
    return body


def _read_once(http: httpx.Client, call: HttpCall, deadline: Deadline) -> bytes:
    response = open_response(http, call, deadline)
    with _mapped(call, deadline), closing(response):
        body = read_capped(response, call.max_body + 1, deadline)
        close_if_overlong(response)
    return _whole(body, call)


async def _aread_once(http: httpx.AsyncClient, call: HttpCall, deadline: Deadline) -> bytes:
    response = await aopen_response(http, call, deadline)
    with _mapped(call, deadline):
        async with aclosing(response):
            body = await aread_capped(response, call.max_body + 1, deadline)
            await aclose_if_overlong(response)
    return _whole(body, call)


def fetch(http: httpx.Client, call: HttpCall, parse: Callable[[bytes], T]) -> T:
    """``parse`` of the whole answer body of ``call``, retried as its policy says (the one
    non-streamed send loop: one-shot chats, files, sessions, stops). An error of reading or
    parsing the answer leaves through :meth:`~.limits.Attempts.final` (secrets scrubbed)."""
    attempts = call.attempts()
    while True:
        attempts.begin()
        try:
            body = _read_once(http, call, attempts.deadline)
        except LyzrError as error:
            delay = attempts.delay_after(error)
        else:
            return _parsed(body, parse, attempts)
        time.sleep(delay)


async def afetch(
    http: httpx.AsyncClient | AsyncPools, call: HttpCall, parse: Callable[[bytes], T]
) -> T:
    """Async form of :func:`fetch`, through one client or through the least busy shard of
    ``pools`` (a shard is held per attempt)."""
    attempts = call.attempts()
    while True:
        attempts.begin()
        if isinstance(http, httpx.AsyncClient):
            client, pools, shard = http, None, 0
        else:
            pools = http
            client, shard = pools.acquire()
        try:
            body = await _aread_once(client, call, attempts.deadline)
        except LyzrError as error:
            delay = attempts.delay_after(error)
        else:
            return _parsed(body, parse, attempts)
        finally:
            if pools is not None:
                pools.release(shard)
        await asyncio.sleep(delay)


def _parsed(body: bytes, parse: Callable[[bytes], T], attempts: Attempts) -> T:
    try:
        return parse(body)
    except LyzrError as error:
        raise attempts.final(error) from error.__cause__


#: Headers whose values are shown in DEBUG logs; every other value (the key, cookies, and any
#: ``default_headers`` value: a proxy's credential goes there) is masked.
_SHOWN_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "connection",
        "content-length",
        "content-type",
        "host",
        "user-agent",
    }
)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers fit for a log line: every value but a few harmless ones masked."""
    return {
        name: value if name.lower() in _SHOWN_HEADERS else "[redacted]"
        for name, value in headers.items()
    }
