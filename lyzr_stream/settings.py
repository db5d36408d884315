"""Client configuration, resolved once from arguments and the environment.

Both I/O shells read the same :class:`ClientSettings`; nothing else looks at the environment.

Environment variables: ``LYZR_API_KEY``, ``LYZR_BASE_URL`` (default: the dialect's own base URL,
``https://agent-prod.studio.lyzr.ai`` for Lyzr v3), ``LYZR_USER_ID`` (default ``default_user``).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from .dialects import Dialect, get_dialect
from .errors import InvalidRequestError
from .retry import RetryPolicy
from .sse import DEFAULT_MAX_EVENT_BYTES
from .timeouts import DEFAULT_TIMEOUTS, TimeoutLike, Timeouts

__all__ = [
    "DEFAULT_USER_ID",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_USER_ID",
    "ClientSettings",
    "is_loopback_host",
    "resolve_api_key",
]

ENV_API_KEY = "LYZR_API_KEY"
ENV_BASE_URL = "LYZR_BASE_URL"
ENV_USER_ID = "LYZR_USER_ID"
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
    return SecretStr(value.strip())


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


def _check_base_url(url: str, has_secret: bool, allow_insecure_http: bool) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequestError(f"base_url must be an http(s) URL with a host, got {url!r}")
    if parts.query or parts.fragment:
        raise InvalidRequestError(f"base_url must not carry a query or fragment: {url!r}")
    if (
        parts.scheme == "http"
        and has_secret
        and not allow_insecure_http
        and not is_loopback_host(parts.hostname)
    ):
        raise InvalidRequestError(
            f"refusing to send credentials over plain http to {parts.hostname}; use https, or "
            "pass allow_insecure_http=True if this network is trusted"
        )
    return url.rstrip("/")


def _check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidRequestError("default_headers must map header names to string values")
        out[name.lower()] = value
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

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        user_id: str | None = None,
        dialect: str | Dialect = "lyzr-v3",
        dialect_options: dict[str, Any] | None = None,
        timeout: TimeoutLike = DEFAULT_TIMEOUTS,
        max_retries: int = 2,
        coalesce: bool = True,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        cookies: Mapping[str, str] | None = None,
        verify: bool = True,
        allow_insecure_http: bool = False,
        default_headers: Mapping[str, str] | None = None,
    ) -> ClientSettings:
        resolved_dialect = get_dialect(dialect, dialect_options)
        key = resolve_api_key(api_key, required=resolved_dialect.requires_api_key)
        if not isinstance(max_event_bytes, int) or max_event_bytes < 1024:
            raise InvalidRequestError(
                f"max_event_bytes must be an integer of at least 1024, got {max_event_bytes!r}"
            )
        url = base_url or os.environ.get(ENV_BASE_URL) or resolved_dialect.default_base_url
        has_secret = key is not None or bool(cookies)
        return cls(
            api_key=key,
            base_url=_check_base_url(url, has_secret, allow_insecure_http),
            user_id=resolve_user_id(user_id),
            dialect=resolved_dialect,
            timeouts=Timeouts.coerce(timeout),
            retry=RetryPolicy(max_retries=max_retries),
            coalesce=coalesce,
            max_event_bytes=max_event_bytes,
            cookies=dict(cookies or {}),
            verify=verify,
            default_headers=_check_headers(default_headers),
        )

    def __repr__(self) -> str:
        # The dataclass repr would print the SecretStr as '**********' anyway; keep it short.
        return (
            f"ClientSettings(base_url={self.base_url!r}, dialect={self.dialect.name!r}, "
            f"user_id={self.user_id!r})"
        )
