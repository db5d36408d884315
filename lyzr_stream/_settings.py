"""Client configuration, resolved once from arguments and the environment.

Both I/O shells read the same :class:`ClientSettings`; nothing else looks at the environment.

Environment variables: ``LYZR_API_KEY``, ``LYZR_BASE_URL`` (default: the dialect's own base URL,
``https://agent-prod.studio.lyzr.ai`` for Lyzr v3), ``LYZR_USER_ID`` (default ``default_user``),
``LYZR_RAG_URL`` (the knowledge-base host, default ``https://rag-prod.studio.lyzr.ai``).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from ._errors import InvalidRequestError, redact_url
from ._http.limits import NOT_GIVEN, RetryPolicy, TimeoutLike, Timeouts
from ._http.proxies import checked_proxy, proxy_for
from .dialects import Dialect, get_dialect
from .dialects._sse import DEFAULT_MAX_EVENT_BYTES

__all__ = [
    "DEFAULT_USER_ID",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_RAG_URL",
    "ENV_USER_ID",
    "ClientSettings",
    "check_proxy_hop",
    "check_url",
    "is_loopback_host",
    "resolve_api_key",
]

ENV_API_KEY = "LYZR_API_KEY"
ENV_BASE_URL = "LYZR_BASE_URL"
ENV_USER_ID = "LYZR_USER_ID"
ENV_RAG_URL = "LYZR_RAG_URL"
#: Lyzr's knowledge-base service, a host of its own (docs/wire.md, "Files, sessions and tasks").
DEFAULT_RAG_BASE_URL = "https://rag-prod.studio.lyzr.ai"
DEFAULT_USER_ID = "default_user"


def resolve_api_key(value: str | SecretStr | None, *, required: bool = True) -> SecretStr | None:
    """The key from the argument, else ``LYZR_API_KEY``; a clear error when required and absent."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        value = os.environ.get(ENV_API_KEY)
    if value is not None and not isinstance(value, str):
        raise InvalidRequestError(f"api_key must be a string, got {type(value).__name__}")
    if not value or not value.strip():
        if required:
            raise InvalidRequestError(
                f"no API key: pass api_key=... or set the {ENV_API_KEY} environment variable"
            )
        return None
    value = value.strip()
    bad = _first_unsendable(value)
    if bad is not None:
        # The key itself is never echoed: only where the bad character is.
        raise InvalidRequestError(
            f"api_key holds a control or non-ASCII character at position {bad} (of "
            f"{len(value)}); check for a stray newline, a non-breaking space or a typographic "
            "quote copied along with it"
        )
    return SecretStr(value)


def _first_unsendable(value: str, *, tab: bool = False) -> int | None:
    """Index of the first character an HTTP header value cannot carry as is, or None."""
    for index, char in enumerate(value):
        if not (" " <= char <= "~" or (tab and char == "\t")):
            return index
    return None


def resolve_user_id(value: str | None) -> str:
    value = value or os.environ.get(ENV_USER_ID) or DEFAULT_USER_ID
    if not value.strip():
        raise InvalidRequestError("user_id must not be blank")
    return value


def is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(
    name: str,
    url: str,
    *,
    schemes: tuple[str, str],
    has_secret: bool,
    allow_insecure_http: bool,
    secrets: tuple[str, ...] = (),
) -> str:
    """The one check of a service URL (``base_url``, ``events_url``): one of ``schemes`` (the
    secure one second) with a host, no query or fragment, no credential in it (a URL is shown
    in logs, reprs and errors: the key goes in ``api_key``), and the secure scheme when
    credentials go to a host that is not loopback. A message never prints the URL's user info
    or query (:func:`~lyzr_stream._errors.redact_url`)."""
    if not isinstance(url, str):
        raise InvalidRequestError(f"{name} must be a string, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise InvalidRequestError(f"{name} is not a valid URL ({redact_url(url)})") from None
    plain, secure = schemes
    decoded = unquote(url)
    if any(len(s) >= 6 and (s in url or s in decoded) for s in secrets):
        raise InvalidRequestError(
            f"{name} contains the API key (or a default_headers or cookie value); pass the key "
            "as api_key, never inside a URL (the URL is not shown here)"
        )
    shown = redact_url(url)
    if parts.scheme not in schemes or not host:
        raise InvalidRequestError(
            f"{name} must be a {plain}:// or {secure}:// URL with a host, got {shown!r}"
        )
    if parts.query or parts.fragment:
        raise InvalidRequestError(f"{name} must not carry a query or fragment: {shown!r}")
    if parts.scheme == plain and has_secret and not allow_insecure_http and not is_loopback_host(
        host
    ):
        raise InvalidRequestError(
            f"refusing to send credentials over plain {plain}:// to {host} ({name}); use "
            f"{secure}://, or "
            "pass allow_insecure_http=True if this network is trusted"
        )
    return url.rstrip("/")


def url_secrets(url: str) -> list[str]:
    """The credentials a URL carries in its user info (httpx sends them as basic auth):
    secrets like the key, never shown."""
    parts = urlsplit(url)
    return [unquote(v) for v in (parts.password, parts.username) if v]


def check_proxy_hop(base_url: str, proxy_url: str | None, allow_insecure_http: bool) -> None:
    """The plain-http guard for the hop to a proxy.

    Through a proxy, an ``https`` base URL is tunnelled (CONNECT): the proxy never sees the key.
    An ``http`` base URL is sent to the proxy as is, key included, so it must then be a
    loopback proxy (or ``allow_insecure_http=True``), whatever the base URL's own host.
    """
    if proxy_url is None or allow_insecure_http or urlsplit(base_url).scheme != "http":
        return
    proxy_host = urlsplit(proxy_url).hostname or ""
    if not is_loopback_host(proxy_host):
        raise InvalidRequestError(
            f"refusing to send credentials over plain http through the proxy at {proxy_host}: "
            "the proxy would read the key; use an https base URL (tunnelled through the proxy), "
            "set NO_PROXY for this host, pass trust_env=False, or allow_insecure_http=True"
        )


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


def _check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Header names must be HTTP tokens and values printable ASCII. Values are treated as
    secrets (a proxy's credential goes here): an error names the header, never its value."""
    if headers is not None and not isinstance(headers, Mapping):
        raise InvalidRequestError("default_headers must be a mapping of header names to values")
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidRequestError("default_headers must map header names to string values")
        lowered = name.lower()
        if not lowered or not _TOKEN_CHARS.issuperset(lowered):
            raise InvalidRequestError(f"default_headers: {name!r} is not a valid header name")
        bad = _first_unsendable(value, tab=True)
        if bad is not None:
            raise InvalidRequestError(
                f"default_headers: the value of {name!r} holds a control or non-ASCII character "
                f"at position {bad}"
            )
        out[lowered] = value
    return out


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Everything a client needs to send a request; immutable once built."""

    api_key: SecretStr | None
    base_url: str
    user_id: str
    dialect: Dialect
    timeouts: Timeouts
    retry: RetryPolicy
    coalesce: bool = True
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    cookies: Mapping[str, str] = field(default_factory=dict)
    verify: bool = True
    default_headers: Mapping[str, str] = field(default_factory=dict)
    #: The ``proxy=`` URL, checked; None: the environment's (httpx applies them, ``trust_env``).
    proxy: str | None = None
    trust_env: bool = True
    stop_on_exit: bool = True
    #: The knowledge-base host (``LyzrClient.retrieve``), checked like ``base_url``.
    rag_base_url: str = DEFAULT_RAG_BASE_URL
    #: What must never appear in an error message: the key, every default header value and
    #: every cookie value (the one scrubber, :func:`lyzr_stream._errors.scrub`, takes these).
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | SecretStr | None,
        base_url: str | None,
        user_id: str | None,
        dialect: str | Dialect,
        dialect_options: dict[str, Any] | None,
        timeout: TimeoutLike,
        max_retries: int,
        retry_unsafe: bool,
        coalesce: bool,
        max_event_bytes: int,
        cookies: Mapping[str, str] | None,
        verify: bool,
        allow_insecure_http: bool,
        default_headers: Mapping[str, str] | None,
        trust_env: bool,
        proxy: str | None,
        stop_on_exit: bool,
        rag_base_url: str | None = None,
    ) -> ClientSettings:
        """Check and complete ``LyzrClient``'s arguments (whose defaults are the only ones: every
        argument is passed) with the environment."""
        resolved_dialect = get_dialect(dialect, dialect_options)
        key = resolve_api_key(api_key, required=resolved_dialect.requires_api_key)
        if not isinstance(max_event_bytes, int) or max_event_bytes < 1024:
            raise InvalidRequestError(
                f"max_event_bytes must be an integer of at least 1024, got {max_event_bytes!r}"
            )
        for name, flag in (
            ("coalesce", coalesce),
            ("allow_insecure_http", allow_insecure_http),
            ("trust_env", trust_env),
            ("stop_on_exit", stop_on_exit),
            ("retry_unsafe", retry_unsafe),
        ):
            if not isinstance(flag, bool):
                raise InvalidRequestError(f"{name} must be True or False, got {flag!r}")
        url = base_url or os.environ.get(ENV_BASE_URL) or resolved_dialect.default_base_url
        has_secret = key is not None or bool(cookies)
        headers = _check_headers(default_headers)
        cookie_jar = dict(cookies or {})
        secrets = [key.get_secret_value()] if key is not None else []
        secrets.extend(headers.values())
        secrets.extend(cookie_jar.values())
        checked_url = check_url(
            "base_url",
            url,
            schemes=("http", "https"),
            has_secret=has_secret,
            allow_insecure_http=allow_insecure_http,
            secrets=tuple(secrets),
        )
        secrets.extend(url_secrets(checked_url))
        # -- knowledge bases: their host, checked by the same rule as base_url --
        checked_rag_url = check_url(
            "rag_base_url",
            rag_base_url or os.environ.get(ENV_RAG_URL) or DEFAULT_RAG_BASE_URL,
            schemes=("http", "https"),
            has_secret=has_secret,
            allow_insecure_http=allow_insecure_http,
            secrets=tuple(secrets),
        )
        secrets.extend(url_secrets(checked_rag_url))
        proxy_url = checked_proxy(proxy)
        if proxy_url is not None:
            secrets.extend(url_secrets(proxy_url))
        for service_url in (checked_url, checked_rag_url):
            if has_secret and not allow_insecure_http and urlsplit(service_url).scheme == "http":
                # Only then can a proxy read the key (check_proxy_hop): ask httpx which it picks.
                hop = proxy_for(service_url, proxy_url, trust_env)
                check_proxy_hop(service_url, hop, allow_insecure_http)
        return cls(
            api_key=key,
            base_url=checked_url,
            user_id=resolve_user_id(user_id),
            dialect=resolved_dialect,
            timeouts=Timeouts.coerce(timeout),
            retry=RetryPolicy(max_retries=max_retries, retry_unsafe=retry_unsafe),
            coalesce=coalesce,
            max_event_bytes=max_event_bytes,
            cookies=cookie_jar,
            verify=verify,
            default_headers=headers,
            proxy=proxy_url,
            trust_env=trust_env,
            stop_on_exit=stop_on_exit,
            rag_base_url=checked_rag_url,
            secrets=tuple(secrets),
        )

    def call_limits(
        self, timeout: TimeoutLike, max_retries: int | None
    ) -> tuple[Timeouts, RetryPolicy]:
        """One call's timeouts and retry policy: the client's, unless the call gives its own."""
        timeouts = self.timeouts if timeout is NOT_GIVEN else Timeouts.coerce(timeout)
        retry = self.retry
        if max_retries is not None:
            retry = RetryPolicy(max_retries, retry_unsafe=retry.retry_unsafe)
        return timeouts, retry

    def __repr__(self) -> str:
        # The dataclass repr would print the SecretStr as '**********' anyway; keep it short.
        return (
            f"ClientSettings(base_url={redact_url(self.base_url)!r}, "
            f"dialect={self.dialect.name!r}, user_id={self.user_id!r})"
        )
