"""HTTP outcomes as the package's typed errors: an error body decoded for
:func:`lyzr_stream._errors.status_error` (the status code rule), a transport exception mapped (the
timeout kinds), a redirect refused; what a service or a transport says back is scrubbed of
secrets.
"""

from __future__ import annotations

import httpx

from .._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    InvalidRequestError,
    LyzrError,
    StreamInterruptedError,
    scrub,
)
from .._json import NOT_JSON, decode_or_text
from .limits import Deadline, timeout_error

__all__ = ["check_redirect", "decode_error_body", "map_transport_error"]

def decode_error_body(body: bytes, content_type: str) -> object:
    """An error body as JSON when it is JSON, else as text (a document too large or too deep
    to decode is kept as text too: the status is what the caller needs)."""
    if "json" in content_type or body[:1] in (b"{", b"["):
        try:
            value = decode_or_text(body, what="the error body")
        except APIResponseValidationError:
            value = NOT_JSON
        if value is not NOT_JSON:
            return value
    return body.decode("utf-8", "replace")


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
        kind = _TIMEOUT_KINDS.get(type(exc))
        if kind is None:
            kind = "read" if in_body else "first_byte"
        return timeout_error("total" if deadline.expired() else kind, phase=kind)
    detail = scrub(str(exc) or type(exc).__name__, secrets)
    if isinstance(exc, (httpx.LocalProtocolError, httpx.UnsupportedProtocol)) and not in_body:
        # The request itself could not be sent as it is: retrying cannot help.
        return InvalidRequestError(f"the request could not be sent ({detail})")
    if in_body:
        return StreamInterruptedError(
            f"the connection broke while the stream was being read ({detail})"
        )
    host = exc.request.url.host if _has_request(exc) else "the service"
    # Only a failure to connect proves the request never left; a connection that broke after
    # it (RemoteProtocolError: "server disconnected without sending a response") may have run.
    sent = not isinstance(exc, (httpx.ConnectError, httpx.ProxyError))
    return APIConnectionError(f"could not reach {host}: {detail}", request_sent=sent)


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
