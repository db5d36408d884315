"""The only module that knows httpx exceptions and response objects.

It maps transport exceptions to the package's errors (one place), turns error responses into
typed status errors, and adjusts the per-phase read timeout. The sync and async stream loops in
:mod:`lyzr_stream._stream` call these helpers and stay a few lines each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import select
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx

from .._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidRequestError,
    LyzrError,
    StreamInterruptedError,
    status_error_from_response,
)
from .._telemetry import note_retry
from ..dialects._base import HttpRequest
from .limits import Timeouts

if TYPE_CHECKING:
    from .limits import RetryPolicy

__all__ = [
    "END_DRAIN_SECONDS",
    "ERROR_BODY_LIMIT",
    "Deadline",
    "RetryStep",
    "aclose_if_overlong",
    "adrain_after_end",
    "build_request",
    "check_redirect",
    "close_if_overlong",
    "drain_after_end",
    "encode_body",
    "injected_proxy",
    "log_retry",
    "logger",
    "map_transport_error",
    "redact_headers",
    "retry_step",
    "scrub",
    "set_body_read_timeout",
]

logger = logging.getLogger("lyzr_stream")

#: At most this much of an error response body is read (an HTML error page can be large).
ERROR_BODY_LIMIT = 64 * 1024

_TIMEOUT_KINDS: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}

_TIMEOUT_ADVICE = {
    "connect": "the service did not accept the connection in time; check the base URL and network",
    "write": "sending the request took too long",
    "pool": "all pooled connections were busy; raise the pool size or lower concurrency",
    "first_byte": "the service did not start answering in time",
    "read": "the stream went quiet for longer than the read (idle) timeout",
    "total": "the whole call took longer than the total timeout",
}


class Deadline:
    """The ``total`` timeout as an absolute monotonic time (or no limit)."""

    __slots__ = ("at",)

    def __init__(self, total: float | None) -> None:
        self.at = None if total is None else time.monotonic() + total

    def expired(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at

    def remaining(self) -> float | None:
        return None if self.at is None else max(0.0, self.at - time.monotonic())


def timeout_error(kind: str, partial_text: str = "") -> APITimeoutError:
    return APITimeoutError(
        f"{kind} timeout: {_TIMEOUT_ADVICE[kind]}", kind=kind, partial_text=partial_text
    )


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret (and its ``repr``/bytes form) replaced by ``[redacted]``."""
    for secret in secrets:
        if len(secret) < _MIN_SCRUBBED:
            continue
        for form in (secret, repr(secret)[1:-1], repr(secret.encode("utf-8", "replace"))[2:-1]):
            text = text.replace(form, "[redacted]")
    return text


#: Shorter values are not scrubbed from messages (they would blank out ordinary words).
_MIN_SCRUBBED = 6


def map_transport_error(
    exc: httpx.HTTPError, *, in_body: bool, deadline: Deadline, secrets: tuple[str, ...] = ()
) -> LyzrError:
    """One httpx exception as the package's error. ``in_body``: headers had arrived.

    ``secrets`` (the key, header values) are scrubbed from the message: transport errors can
    quote a header value (h11's "Illegal header value b'...'").
    """
    if isinstance(exc, httpx.TimeoutException):
        if deadline.expired():
            return timeout_error("total")
        kind = _TIMEOUT_KINDS.get(type(exc))
        if kind is None:
            kind = "read" if in_body else "first_byte"
        return timeout_error(kind)
    detail = scrub(str(exc) or type(exc).__name__, secrets)
    if isinstance(exc, (httpx.LocalProtocolError, httpx.UnsupportedProtocol)) and not in_body:
        # The request itself could not be sent as it is: retrying cannot help.
        return InvalidRequestError(f"the request could not be sent ({detail})")
    if in_body:
        return StreamInterruptedError(
            f"the connection broke while the stream was being read ({detail})"
        )
    host = exc.request.url.host if _has_request(exc) else "the service"
    return APIConnectionError(f"could not reach {host}: {detail}")


def _has_request(exc: httpx.HTTPError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when unset
    except RuntimeError:
        return False
    return True


def check_redirect(response: httpx.Response) -> None:
    """Redirects are never followed with credentials attached: report them instead."""
    if 300 <= response.status_code < 400:
        location = response.headers.get("location", "(no location)")
        raise APIStatusError(
            f"HTTP {response.status_code}: the service redirected to {location}; redirects are not"
            " followed with credentials attached: set base_url to the final address",
            status_code=response.status_code,
            headers=response.headers,
        )


def status_error(response: httpx.Response, body: bytes) -> APIStatusError:
    return status_error_from_response(response.status_code, response.headers, body)


def set_body_read_timeout(response: httpx.Response, seconds: float | None) -> None:
    """Switch the socket read timeout from the first-byte value to the idle value.

    httpcore reads ``request.extensions["timeout"]["read"]`` when the body starts, so changing
    it after the headers arrived gives the body its own timeout (a test guards this).
    """
    timeouts: Any = response.request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        timeouts["read"] = seconds


def _plain(value: object) -> object:
    """JSON for the mappings and sequences the standard encoder does not take
    (``MappingProxyType``, other ``Mapping``/``Sequence`` types); anything else is refused."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple, set, frozenset)) or (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes))
    ):
        return list(value)
    raise InvalidRequestError(
        f"the request holds a {type(value).__name__}, which cannot be sent as JSON"
    )


#: One encoder for every request body (``json.dumps`` with options builds a new one per call).
_JSON = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_plain
)


def encode_body(http_request: HttpRequest) -> bytes:
    """The request body; what cannot be sent is an :class:`InvalidRequestError` naming it."""
    try:
        return _JSON.encode(http_request.json).encode()
    except UnicodeEncodeError:
        raise InvalidRequestError(
            "the request holds text that is not valid Unicode (a lone surrogate, often left by a"
            " broken decode) in the message, an id or a variable"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InvalidRequestError(f"the request body cannot be sent as JSON: {exc}") from None


def build_request(
    client: httpx.Client | httpx.AsyncClient,
    http_request: HttpRequest,
    url: str,
    timeouts: Timeouts,
    content: bytes,
    deadline: Deadline | None = None,
) -> httpx.Request:
    """The httpx request for a dialect's :class:`HttpRequest` (body encoded once by the caller).

    With a ``deadline``, no phase may wait past it (a retry gets only the time that is left).
    """
    remaining = None if deadline is None else deadline.remaining()
    request = client.build_request(
        http_request.method,
        url,
        content=content,
        headers=dict(http_request.headers),
        cookies=dict(http_request.cookies) or None,
        timeout=timeouts.to_httpx(remaining),
    )
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "lyzr_stream: %s %s headers=%s",
            request.method,
            request.url,
            redact_headers(request.headers),
        )
    return request


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


def injected_proxy(client: httpx.Client | httpx.AsyncClient, url: str) -> str | None:
    """The proxy a user-supplied httpx client would send ``url`` through, or None.

    Read from httpx/httpcore internals (best effort: None when they changed), so that the
    plain-http guard also holds for a client built with ``proxy=`` or ``mounts=``.
    """
    try:
        transport = client._transport_for_url(httpx.URL(url))
        pool = getattr(transport, "_pool", None)
        proxy = getattr(pool, "_proxy_url", None)
        if proxy is None:
            return None
        host = proxy.host.decode("ascii") if isinstance(proxy.host, bytes) else str(proxy.host)
        scheme = proxy.scheme.decode("ascii") if isinstance(proxy.scheme, bytes) else proxy.scheme
        return f"{scheme}://{host}"
    except Exception:
        return None


class RetryStep(NamedTuple):
    """Wait ``delay`` seconds, then retry, or raise ``then_raise`` when the wait used up the
    total timeout."""

    delay: float
    then_raise: LyzrError | None = None


def retry_step(
    policy: RetryPolicy, attempt: int, error: LyzrError, deadline: Deadline
) -> RetryStep | None:
    """What to do after attempt number ``attempt`` failed with ``error``; None: raise it now.

    A wait never overshoots the total timeout: it is cut at the time left, and the call then
    ends with ``APITimeoutError(kind="total")``.
    """
    delay = policy.delay(attempt, error)
    if delay is None:
        return None
    remaining = deadline.remaining()
    if remaining is not None and delay >= remaining:
        return RetryStep(remaining, timeout_error("total"))
    log_retry(attempt, error, delay)
    return RetryStep(delay)


def log_retry(attempt: int, error: LyzrError, delay: float) -> None:
    note_retry(attempt, error, delay)
    logger.info(
        "lyzr_stream: attempt %d failed (%s); retrying in %.2fs",
        attempt,
        type(error).__name__,
        delay,
    )


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
