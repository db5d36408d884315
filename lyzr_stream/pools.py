"""Async connection pools, sharded, for one event loop.

httpcore's pool does work proportional to (connections x waiting requests) each time a request
starts or ends, so a single pool holding 1,000 concurrent streams spends most of its time in
bookkeeping (quadratic in the concurrency). :class:`AsyncPools` splits the connections over
several smaller httpx clients ("shards") and sends each request to the least busy one. Shard 0
is always preferred when it is as free as the others, so sequential use keeps reusing one warm
connection; more shards are created only when requests overlap.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import httpx

__all__ = ["SHARD_SIZE", "AsyncPools", "shard_plan"]

#: Connections per shard when the limit is split (the pool's cost per operation stays small).
SHARD_SIZE = 64
_MAX_SHARDS = 16


def shard_plan(max_connections: int) -> tuple[int, int]:
    """``(shards, connections per shard)`` for a total connection limit."""
    shards = max(1, min(_MAX_SHARDS, math.ceil(max_connections / SHARD_SIZE)))
    return shards, math.ceil(max_connections / shards)


class AsyncPools:
    """Up to ``shards`` httpx async clients, created on demand by ``make``."""

    __slots__ = ("_busy", "_clients", "_make", "_shards")

    def __init__(self, make: Callable[[], httpx.AsyncClient], shards: int) -> None:
        self._make = make
        self._shards = shards
        self._clients: list[httpx.AsyncClient] = []
        self._busy: list[int] = []

    @classmethod
    def of(cls, client: httpx.AsyncClient) -> AsyncPools:
        """One given client, not sharded (a user-supplied ``async_http_client``)."""
        pools = cls(lambda: client, 1)
        pools._clients, pools._busy = [client], [0]
        return pools

    @property
    def clients(self) -> list[httpx.AsyncClient]:
        return list(self._clients)

    def acquire(self) -> tuple[httpx.AsyncClient, int]:
        """The least busy shard's client and its index; :meth:`release` it when done."""
        busy = self._busy
        index = 0
        if busy:
            index = min(range(len(busy)), key=busy.__getitem__)
            if busy[index] and len(busy) < self._shards:
                index = len(busy)  # every shard is busy: open the next one
        if index == len(busy):
            self._clients.append(self._make())
            busy.append(0)
        busy[index] += 1
        return self._clients[index], index

    def release(self, index: int) -> None:
        self._busy[index] -= 1

    async def aclose(self) -> None:
        clients, self._clients, self._busy = self._clients, [], []
        for client in clients:
            await client.aclose()
