"""The connections a client holds: a sync pool, and async pools per event loop (sharded),
created on first use, rebuilt after ``os.fork()``, closed with the client or with their loop.
Each pool is a plain httpx client (its own default transport; httpx applies the environment's
proxies itself, see :mod:`.proxies`), all of one client sharing one TLS context.
Also the ``with``/``async with`` behaviour of the objects that hold connections.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
from types import TracebackType
from typing import Any, Self

import httpx

from .pools import AsyncPools, shard_plan

__all__ = ["AsyncClosingContext", "ClosingContext", "Connections"]


class Connections:
    r"""The httpx clients of one :class:`~lyzr_stream.LyzrClient`.

    Connections are pooled: the ``httpx.Client`` and ``httpx.AsyncClient``\ s are created on
    first use and reused by every call. An async pool is kept per event loop, so ``asyncio.run``
    called several times works. After ``os.fork()`` the child builds its own pools. A given
    ``http_client`` / ``async_http_client`` is used as it is and never closed here.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        verify: bool,
        trust_env: bool,
        proxy: str | None,
        headers: dict[str, str],
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._verify, self._trust_env, self._proxy = verify, trust_env, proxy
        self._headers = headers
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        shards, per_shard = shard_plan(max_connections)
        self._shards = shards
        self._shard_limits = httpx.Limits(
            max_connections=per_shard, max_keepalive_connections=per_shard
        )
        self.owns_sync = http_client is None
        self._own_async = async_http_client is None
        self._sync: httpx.Client | None = http_client
        self._injected_async = (
            None if async_http_client is None else AsyncPools.of(async_http_client)
        )
        self._async: dict[asyncio.AbstractEventLoop, AsyncPools] = {}
        self._pid = os.getpid()
        self._ssl: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        #: Sync clients made for work apart from the pool (the agent stops'), closed with it.
        self._side: list[httpx.Client] = []

    def check_fork(self) -> None:
        """Forked: the parent's pools (sockets, locks) must not be shared with the child."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            if self.owns_sync:
                self._sync = None
            self._async = {}

    # -- sync --------------------------------------------------------------------------------
    def sync(self) -> httpx.Client:
        """The sync pool (created on first use)."""
        client = self._sync
        if client is None:
            with self._lock:
                if self._sync is None:
                    self._sync = httpx.Client(**self._client_kwargs(self._limits))
                client = self._sync
        return client

    def new_sync_client(self, limits: httpx.Limits | None = None) -> httpx.Client:
        """A sync client with this client's settings (the stops' own client, say), closed by
        :meth:`close` too."""
        client = httpx.Client(**self._client_kwargs(limits or self._limits))
        with self._lock:
            self._side.append(client)
        return client

    # -- async -------------------------------------------------------------------------------
    def async_pools(self) -> AsyncPools:
        """This event loop's async pools (each loop has its own: connections are loop-bound).

        They are closed when their loop shuts down (``asyncio.run`` returning), so a long-lived
        client used by many ``asyncio.run`` calls keeps no sockets of the runs that ended.
        """
        if self._injected_async is not None:
            return self._injected_async
        loop = asyncio.get_running_loop()
        pools = self._async.get(loop)
        if pools is None:
            self._forget_closed_loops()
            pools = AsyncPools(self._new_async_client, self._shards)
            self._async[loop] = pools
            pools.close_with_loop(lambda: self._forget(loop))
        return pools

    def loops_with_pools(self) -> int:
        """How many event loops this client holds async pools for (closed loops are dropped)."""
        return len(self._async)

    def _forget(self, loop: asyncio.AbstractEventLoop) -> None:
        self._async.pop(loop, None)

    def _forget_closed_loops(self) -> None:
        """Drop pools of loops closed without shutting down their async generators (a loop
        closed by hand): their sockets cannot be closed from another loop; the garbage
        collector closes them once nothing holds the pools."""
        for old in [old for old in self._async if old.is_closed()]:
            self._async.pop(old, None)

    def _new_async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(**self._client_kwargs(self._shard_limits))

    # -- what every pool is built with ---------------------------------------------------------
    def _client_kwargs(self, limits: httpx.Limits) -> dict[str, Any]:
        return {
            "limits": limits,
            "verify": self._ssl_context(),
            "trust_env": self._trust_env,
            "proxy": self._proxy,
            "follow_redirects": False,
            "headers": self._headers,
        }

    def _ssl_context(self) -> ssl.SSLContext:
        """One TLS context for every pool of this client: building one loads the CA bundle
        (about 0.1 s), which each new event loop's pools would otherwise pay again. Measured
        2026-12-07 with ``make bench`` (its concurrency rows, 16 shards): with a context per
        pool, 1,000 concurrent core streams grow RSS by 64 MB instead of 52 MB (1.22x) and
        ChatLyzr.astream streams by 79 MB instead of 67 MB (1.19x), medians of 7 rounds."""
        context = self._ssl
        if context is None:
            context = httpx.create_ssl_context(verify=self._verify, trust_env=self._trust_env)
            self._ssl = context
        return context

    # -- closing -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the sync pool, when this client created it, and the sync clients made apart
        from it (idempotent). Also what a dropped client's finalizer runs: nothing here refers
        back to the client."""
        with self._lock:
            side, self._side = self._side, []
            sync = self._sync if self.owns_sync else None
            if self.owns_sync:
                self._sync = None
        for client in (*side, sync):
            if client is not None:
                client.close()

    async def aclose(self) -> None:
        """Close the sync pool and the running loop's async pools (idempotent)."""
        self.close()
        if self._own_async:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # pragma: no cover - aclose is always awaited in a loop
                return
            pools = self._async.pop(loop, None)
            if pools is not None:
                await pools.aclose()
        elif self._injected_async is not None:
            await self._injected_async.wait_background()


class ClosingContext:
    """``with obj:`` closes ``obj`` on the way out."""

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncClosingContext:
    """``async with obj:`` closes ``obj`` on the way out."""

    __slots__ = ()

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
