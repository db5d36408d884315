"""Which proxy a request goes through: ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY``
(either case, read as httpx and openai-python read them), or an explicit ``proxy=`` URL.

The client builds its own transports (sharded pools, socket options), and httpx ignores the
environment's proxies whenever a transport is given, so the rules are applied here and handed to
httpx as ``mounts``. ``trust_env=False`` ignores the environment.
"""

from __future__ import annotations

import ipaddress
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from .._errors import InvalidRequestError

__all__ = ["ProxyConfig"]

T = TypeVar("T")


def _with_scheme(url: str) -> str:
    return url if "://" in url else f"http://{url}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ProxyConfig:
    """Proxy URL per scheme (``http``, ``https``, ``all``) and the hosts that bypass them."""

    by_scheme: dict[str, str] = field(default_factory=dict, repr=False)
    no_proxy: tuple[str, ...] = ()
    bypass_all: bool = False

    @classmethod
    def resolve(cls, proxy: str | None, trust_env: bool) -> ProxyConfig:
        if proxy is not None:
            if not isinstance(proxy, str) or urlsplit(_with_scheme(proxy)).scheme not in (
                "http",
                "https",
                "socks5",
                "socks5h",
            ):
                raise InvalidRequestError("proxy must be an http(s):// or socks5:// URL")
            return cls({"all": _with_scheme(proxy)})
        if not trust_env:
            return cls()
        found = urllib.request.getproxies()
        by_scheme = {s: _with_scheme(found[s]) for s in ("http", "https", "all") if found.get(s)}
        hosts = tuple(h.strip().lower() for h in found.get("no", "").split(",") if h.strip())
        return cls(by_scheme, hosts, "*" in hosts)

    def __bool__(self) -> bool:
        return bool(self.by_scheme) and not self.bypass_all

    def for_url(self, url: str) -> str | None:
        """The proxy a request to ``url`` goes through, or None (direct)."""
        if not self:
            return None
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        for entry in self.no_proxy:
            bare = entry.split("://")[-1].lstrip("*").lstrip(".").split(":")[0].strip("[]")
            if host == bare or (not _is_ip(bare) and host.endswith("." + bare)):
                return None
        return self.by_scheme.get(parts.scheme) or self.by_scheme.get("all")

    def mounts(self, make: Callable[[str], T]) -> dict[str, T | None]:
        """httpx ``mounts``: a proxy transport per scheme, ``None`` (direct) per bypassed host."""
        if not self:
            return {}
        out: dict[str, T | None] = {}
        for scheme, url in self.by_scheme.items():
            out[f"{scheme}://"] = make(url)
        for entry in self.no_proxy:
            if "://" in entry:
                out[entry] = None
            elif _is_ip(entry):
                out[f"all://{entry if ':' not in entry else f'[{entry}]'}"] = None
            elif entry == "localhost":
                out["all://localhost"] = None
            else:
                out[f"all://*{entry.lstrip('*').lstrip('.')}"] = None
        return out
