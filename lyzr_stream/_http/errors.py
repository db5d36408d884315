"""HTTP outcomes as the package's typed errors: an error status with its body, and a transport
exception. The one place for the status code rule, the timeout kinds and the secret scrubbing
of what a service or a transport says back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from .._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidRequestError,
    LyzrError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamInterruptedError,
    UnprocessableEntityError,
    excerpt,
    parse_retry_after,
    scrub,
)
from .._json import NOT_JSON, decode_or_text
from .limits import Deadline, timeout_error

__all__ = ["check_redirect", "map_transport_error", "status_error_from_response"]

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

_HINTS: dict[int, str] = {
    400: "check the request fields",
    401: "check the API key (LYZR_API_KEY) or session cookie",
    403: "the credentials are valid but not allowed to use this resource",
    404: "check the agent id, session id or chat id and the base URL",
    409: "the resource is busy or in a conflicting state; retry later",
    422: "the service rejected a field; see the detail",
    429: "rate limited, or the account may be out of credits (Lyzr answers 429 when the "
    "credits are exhausted): check the account's balance",
}


def _decode_body(body: bytes, content_type: str) -> object:
    """The error body as JSON when it is JSON, else as text (a document too large or too deep
    to decode is kept as text too: the status is what the caller needs)."""
    if "json" in content_type or body[:1] in (b"{", b"["):
        try:
            value = decode_or_text(body, what="the error body")
        except APIResponseValidationError:
            value = NOT_JSON
        if value is not NOT_JSON:
            return value
    return body.decode("utf-8", "replace")


#: An error message quotes at most this much of the service's detail.
DETAIL_CHARS = 500


def _detail(body: object) -> str:
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            if key in body:
                value = body[key]
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                return excerpt(text, DETAIL_CHARS)
    if isinstance(body, str):
        if "<html" in body.lower()[:500]:
            return f"an HTML page instead of an API error ({excerpt(body, 80)})"
        return excerpt(body)
    return excerpt(json.dumps(body, default=str))


def status_error_from_response(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    partial_text: str = "",
    secrets: tuple[str, ...] = (),
) -> APIStatusError:
    """Map an error response to its typed error. One place for the status code rule; the message
    has ``secrets`` scrubbed from it (a service may echo a header back)."""
    content_type = headers.get("content-type", "")
    decoded = _decode_body(body, content_type)
    cls = _STATUS_CLASSES.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIStatusError
    hint = _HINTS.get(status_code, "the service failed; retry later" if status_code >= 500 else "")
    message = f"HTTP {status_code}: {_detail(decoded)}" + (f" ({hint})" if hint else "")
    if secrets:
        message = scrub(message, secrets)
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "body": decoded,
        "headers": headers,
        "partial_text": partial_text,
    }
    if cls is RateLimitError:
        return RateLimitError(
            message, retry_after=parse_retry_after(headers.get("retry-after")), **kwargs
        )
    return cls(message, **kwargs)


_TIMEOUT_KINDS: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}


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
