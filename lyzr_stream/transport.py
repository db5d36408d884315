"""The only module that knows httpx exceptions and response objects.

It maps transport exceptions to the package's errors (one place), turns error responses into
typed status errors, and adjusts the per-phase read timeout. The sync and async stream loops in
:mod:`lyzr_stream.stream` call these helpers and stay a few lines each.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx

from .dialects.base import HttpRequest
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    LyzrError,
    StreamInterruptedError,
    status_error_from_response,
)
from .timeouts import Timeouts

__all__ = [
    "ERROR_BODY_LIMIT",
    "Deadline",
    "build_request",
    "check_redirect",
    "encode_body",
    "log_retry",
    "logger",
    "map_transport_error",
    "redact_headers",
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


def map_transport_error(exc: httpx.HTTPError, *, in_body: bool, deadline: Deadline) -> LyzrError:
    """One httpx exception as the package's error. ``in_body``: headers had arrived."""
    if isinstance(exc, httpx.TimeoutException):
        if deadline.expired():
            return timeout_error("total")
        kind = _TIMEOUT_KINDS.get(type(exc))
        if kind is None:
            kind = "read" if in_body else "first_byte"
        return timeout_error(kind)
    detail = str(exc) or type(exc).__name__
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


#: One encoder for every request body (``json.dumps`` with options builds a new one per call).
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_body(http_request: HttpRequest) -> bytes:
    return _JSON.encode(http_request.json).encode()


def build_request(
    client: httpx.Client | httpx.AsyncClient,
    http_request: HttpRequest,
    url: str,
    timeouts: Timeouts,
    content: bytes,
) -> httpx.Request:
    """The httpx request for a dialect's :class:`HttpRequest` (body encoded once by the caller)."""
    request = client.build_request(
        http_request.method,
        url,
        content=content,
        headers=dict(http_request.headers),
        cookies=dict(http_request.cookies) or None,
        timeout=timeouts.to_httpx(),
    )
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "lyzr_stream: %s %s headers=%s",
            request.method,
            request.url,
            redact_headers(request.headers),
        )
    return request


_SENSITIVE_PARTS = ("key", "auth", "token", "secret", "cookie", "session", "password")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers fit for a log line: credentials (keys, auth, tokens, cookies) masked."""
    return {
        name: "[redacted]" if any(p in name.lower() for p in _SENSITIVE_PARTS) else value
        for name, value in headers.items()
    }


def log_retry(attempt: int, error: LyzrError, delay: float) -> None:
    logger.info(
        "lyzr_stream: attempt %d failed (%s); retrying in %.2fs",
        attempt,
        type(error).__name__,
        delay,
    )
