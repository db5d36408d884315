"""Reading a response body: capped in size and bounded by the total deadline, and what follows
an answer's end marker (drained briefly so the connection can be reused, or closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from .limits import Deadline, timeout_error

__all__ = [
    "END_DRAIN_SECONDS",
    "ERROR_BODY_LIMIT",
    "aclose_if_overlong",
    "adrain_after_end",
    "aread_capped",
    "close_if_overlong",
    "drain_after_end",
    "read_capped",
    "set_body_read_timeout",
]

logger = logging.getLogger("lyzr_stream")

#: At most this much of an error response body is read (an HTML error page can be large).
ERROR_BODY_LIMIT = 64 * 1024
#: The shortest wait given to a socket read at the deadline (zero would mean non-blocking).
_MIN_READ_WAIT = 0.001


def set_body_read_timeout(response: httpx.Response, seconds: float | None) -> None:
    """Switch the socket read timeout from the first-byte value to the idle value.

    httpcore reads ``request.extensions["timeout"]["read"]`` when the body starts, so changing
    it after the headers arrived gives the body its own timeout (a test guards this).
    """
    timeouts: Any = response.request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        timeouts["read"] = seconds


def read_capped(response: httpx.Response, limit: int, deadline: Deadline) -> bytes:
    """At most ``limit`` bytes of a body, within the total deadline as a whole: checked between
    reads, and each socket read waits at most the time left (the rest is not read)."""
    capped = _CappedBody(response, limit, deadline)
    try:
        with _reads_within(response, deadline):
            for chunk in response.iter_bytes():
                if capped.full_after(chunk):
                    break
    except httpx.TimeoutException:
        if deadline.expired():
            raise timeout_error("total") from None
        raise
    return capped.body()


async def aread_capped(response: httpx.Response, limit: int, deadline: Deadline) -> bytes:
    """Async form of :func:`read_capped` (a read still pending at the deadline is cancelled)."""
    capped = _CappedBody(response, limit, deadline)
    try:
        async with asyncio.timeout(deadline.remaining()):
            async for chunk in response.aiter_bytes():
                if capped.full_after(chunk):
                    break
    except TimeoutError:
        raise timeout_error("total") from None
    return capped.body()


@contextmanager
def _reads_within(response: httpx.Response, deadline: Deadline) -> Iterator[None]:
    """Within: each socket read of ``response``'s body waits at most the time left before
    ``deadline``. httpcore takes the read timeout once, when the body starts, so a body that
    drips and then stalls would otherwise overrun the deadline by up to that timeout.

    Only for an HTTP/1.1 connection, whose network stream serves this one response; the
    stream's own ``read`` is back in place on exit (the connection may be reused)."""
    stream: Any = response.extensions.get("network_stream")
    read = getattr(stream, "read", None)
    if deadline.remaining() is None or read is None or _http11_connection(response) is None:
        yield
        return

    def read_within(max_bytes: int, timeout: float | None = None) -> bytes:
        left = max(deadline.remaining() or 0.0, _MIN_READ_WAIT)
        data: bytes = read(max_bytes, left if timeout is None else min(timeout, left))
        return data

    stream.read = read_within
    try:
        yield
    finally:
        with contextlib.suppress(AttributeError):
            del stream.read


class _CappedBody:
    """The bookkeeping of :func:`read_capped` (sans-I/O): chunks kept up to a size limit."""

    __slots__ = ("_deadline", "_limit", "_parts", "_size")

    def __init__(self, response: httpx.Response, limit: int, deadline: Deadline) -> None:
        remaining = deadline.remaining()
        if remaining is not None:
            timeouts = response.request.extensions.get("timeout")
            current = timeouts.get("read") if isinstance(timeouts, dict) else None
            idle = remaining if current is None else min(current, remaining)
            set_body_read_timeout(response, idle)
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


# -- after the end marker ----------------------------------------------------------------------
#: Once the answer's end marker arrived, the rest of the body (the chunked terminator) may take
#: this long before the connection is closed instead of kept for reuse. A server that holds the
#: connection open, resets it or keeps sending comments after the end costs at most this.
END_DRAIN_SECONDS = 0.25
#: At most this much is read after the end marker (keepalive comments are discarded).
_END_DRAIN_BYTES = 64 * 1024


def _http11_connection(response: httpx.Response) -> Any:
    """httpcore's HTTP/1.1 connection behind a response, or None (another transport or version).

    Reached through private attributes of httpx/httpcore (a test guards the path): it is the
    only place that can tell whether bytes are already waiting in the connection's buffer.
    """
    node: Any = response.stream
    for name in ("_stream", "_httpcore_stream", "_stream", "_connection"):
        node = getattr(node, name, None)
    return node if hasattr(node, "_h11_state") else None


def _buffered(connection: Any) -> bytes:
    try:
        data, _ = connection._h11_state.trailing_data
    except Exception:
        return b""
    return bytes(data)


def _body_ready(response: httpx.Response, wait: float) -> bool:
    """Whether the next body read returns without blocking, waiting at most ``wait`` seconds."""
    connection = _http11_connection(response)
    # A bare CRLF left in the buffer is the end of the last chunk, not the start of another.
    if connection is not None and _buffered(connection).strip(b"\r\n"):
        return True
    network = response.extensions.get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    if sock is None:
        return False
    pending = getattr(sock, "pending", None)  # TLS: bytes decrypted but not yet read
    if pending is not None and pending():
        return True
    try:
        readable, _, _ = select.select([sock], [], [], wait)
    except (OSError, ValueError):
        return False
    return bool(readable)


def drain_after_end(response: httpx.Response, chunks: Iterator[bytes]) -> None:
    """Read what follows the end marker only while it arrives promptly, so a finished answer
    keeps its connection for reuse; never waits long and never raises (the answer is complete).
    The caller closes the response afterwards."""
    until = time.monotonic() + END_DRAIN_SECONDS
    received = 0
    try:
        while received <= _END_DRAIN_BYTES:
            wait = until - time.monotonic()
            if wait <= 0 or not _body_ready(response, wait):
                return
            chunk = next(chunks, None)
            if chunk is None:
                close_if_overlong(response)
                return
            received += len(chunk)
    except httpx.HTTPError:
        return


async def adrain_after_end(response: httpx.Response, chunks: AsyncIterator[bytes]) -> None:
    """Async form of :func:`drain_after_end` (a read still pending at the limit is cancelled:
    httpcore then closes that connection)."""
    received = 0
    try:
        async with asyncio.timeout(END_DRAIN_SECONDS):
            async for chunk in chunks:
                received += len(chunk)
                if received > _END_DRAIN_BYTES:
                    return
        await aclose_if_overlong(response)
    except (TimeoutError, httpx.HTTPError):
        return


def close_if_overlong(response: httpx.Response) -> None:
    """Close the connection when bytes followed the body it announced.

    A body longer than its ``Content-Length`` leaves the surplus in the connection's buffer,
    where it would be read as the *next* response on that connection (even a whole forged one).
    Such a connection is closed instead of going back to the pool.
    """
    connection = _http11_connection(response)
    if connection is not None and _buffered(connection):
        logger.debug("lyzr_stream: bytes after the end of a response; connection closed")
        connection.close()


async def aclose_if_overlong(response: httpx.Response) -> None:
    connection = _http11_connection(response)
    if connection is not None and _buffered(connection):
        logger.debug("lyzr_stream: bytes after the end of a response; connection closed")
        await connection.aclose()
