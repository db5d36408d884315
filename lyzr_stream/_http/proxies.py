"""Which proxy a request goes through: ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY``
(either case) or an explicit ``proxy=`` URL.

The pools are plain httpx clients given ``proxy=`` and ``trust_env=``, so httpx applies the
environment's proxies itself, exactly as it does for openai-python; ``trust_env=False`` ignores
the environment. The plain-http guard needs the proxy before any request is sent: it asks httpx
which transport a URL would take (:func:`proxy_for`), for the client's own pools as for a
user-supplied client (:func:`injected_proxy`), so the guard and the request never disagree.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

import httpx

from .._errors import InvalidRequestError

__all__ = ["checked_proxy", "injected_proxy", "proxy_for"]


def checked_proxy(proxy: str | None) -> str | None:
    """The ``proxy=`` argument, checked: an http(s):// or socks5:// URL (a bare ``host:port``
    is an http proxy)."""
    if proxy is None:
        return None
    if not isinstance(proxy, str):
        raise InvalidRequestError("proxy must be an http(s):// or socks5:// URL")
    url = proxy if "://" in proxy else f"http://{proxy}"
    if urlsplit(url).scheme not in ("http", "https", "socks5", "socks5h"):
        raise InvalidRequestError("proxy must be an http(s):// or socks5:// URL")
    return url


def proxy_for(url: str, proxy: str | None, trust_env: bool) -> str | None:
    """The proxy the client's own pools send ``url`` through (``proxy`` as :func:`checked_proxy`
    returns it), or None (direct): read from an httpx client built with the same settings."""
    if proxy is None and not (trust_env and _environment_has_proxies()):
        return None  # nothing httpx could pick: skip building a probe client
    try:
        probe = httpx.Client(proxy=proxy, trust_env=trust_env, verify=False)
    except ImportError:
        # A SOCKS proxy without socksio: the pools fail alike when first built, so no request
        # can be sent; the error comes with the first call, as for any other client.
        return None
    with probe:
        return injected_proxy(probe, url)


def _environment_has_proxies() -> bool:
    """Whether the environment names a proxy where httpx reads it (``urllib``'s
    ``getproxies``: ``http``, ``https`` and ``all``; ``no`` alone only bypasses)."""
    found = urllib.request.getproxies()
    return any(found.get(scheme) for scheme in ("http", "https", "all"))


def injected_proxy(client: httpx.Client | httpx.AsyncClient, url: str) -> str | None:
    """The proxy an httpx client (a user-supplied one, say) would send ``url`` through, or None.

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
        return f"{scheme}://[{host}]" if ":" in host else f"{scheme}://{host}"
    except Exception:
        return None
