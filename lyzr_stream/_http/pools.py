"""Async connection pools, sharded, for one event loop, closed when that loop ends.

httpcore's pool does work proportional to (connections x waiting requests) each time a request
starts or ends, so a single pool holding 1,000 concurrent streams spends most of its time in
bookkeeping (quadratic in the concurrency). :class:`AsyncPools` splits the connections over
several smaller httpx clients ("shards") and sends each request to the least busy one. Shard 0
is always preferred when it is as free as the others, so sequential use keeps reusing one warm
connection; more shards are created only when requests overlap. Measured 2026-12-07 with
``make bench`` (its concurrency rows; alone: ``python -m benchmarks.scenarios concurrency_core
URL '{"streams": 1000, "tokens": 200}'`` against ``python -m benchmarks.emulator_process
--fast``): 1,000 concurrent core streams x 200 tokens take 12.9 s with shards, 39.8 s with one
pool (``shard_plan`` returning ``(1, max_connections)``), 3.2x, and ChatLyzr.astream 14.4 s vs
39.0 s, 2.7x (medians of 5 interleaved rounds on 2 busy cores; CPU time 3.6x and 2.5x).

Connections belong to the loop that opened them. :meth:`AsyncPools.close_with_loop` ties the
pools to their loop's end: ``asyncio.run`` (and every ``asyncio.Runner``) closes the loop's
async generators before closing the loop, and a parked generator of ours closes the pools
there, inside the loop, so that a long-lived client used by many ``asyncio.run`` calls keeps no
socket (and no loop) of the runs that ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncGenerator, Callable

import httpx

__all__ = ["SHARD_SIZE", "AsyncPools", "shard_plan"]

#: Connections per shard when the limit is split (the pool's cost per operation stays small).
SHARD_SIZE = 64
_MAX_SHARDS = 16
#: How long closing the pools waits for background requests (agent stops) still running.
_BACKGROUND_GRACE = 2.5
#: How often the loop's shutdown looks whether its streams are closed.
_STREAMS_POLL = 0.005


def shard_plan(max_connections: int) -> tuple[int, int]:
    """``(shards, connections per shard)`` for a total connection limit."""
    shards = max(1, min(_MAX_SHARDS, math.ceil(max_connections / SHARD_SIZE)))
    return shards, math.ceil(max_connections / shards)


class AsyncPools:
    """Up to ``shards`` httpx async clients, created on demand by ``make``.

    ``background`` holds tasks that use the pools after their stream ended (the request that
    stops an agent); closing the pools waits for them, bounded, then cancels what is left.
    """

    __slots__ = (
        "_aside",
        "_busy",
        "_clients",
        "_keeper",
        "_make",
        "_shards",
        "background",
        "open_streams",
    )

    def __init__(self, make: Callable[[], httpx.AsyncClient], shards: int) -> None:
        self._make = make
        self._shards = shards
        self._clients: list[httpx.AsyncClient] = []
        self._busy: list[int] = []
        self._keeper: AsyncGenerator[None, None] | None = None
        self._aside: httpx.AsyncClient | None = None
        self.background: set[asyncio.Task[None]] = set()
        #: Streams of this loop begun and not yet closed (their generators' bodies running).
        self.open_streams = 0

    @classmethod
    def of(cls, client: httpx.AsyncClient) -> AsyncPools:
        """One given client, not sharded (a user-supplied ``async_http_client``)."""
        pools = cls(lambda: client, 1)
        pools._clients, pools._busy = [client], [0]
        pools._aside = client
        return pools

    def aside(self) -> httpx.AsyncClient:
        """A client apart from the shards, for background requests (they never take a
        connection the caller's next stream is waiting for)."""
        if self._aside is None:
            self._aside = self._make()
        return self._aside

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
        if index < len(self._busy):
            self._busy[index] -= 1

    def run_in_background(self, work: Callable[[], object]) -> asyncio.Task[None]:
        """Run the coroutine ``work()`` as a task kept (strongly) until it ends."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work())  # type: ignore[arg-type]
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    def close_with_loop(self, on_close: Callable[[], None]) -> None:
        """Close these pools when the running loop shuts down; ``on_close`` runs first.

        Must be called from a coroutine running in that loop. The generator parked here is
        registered with the loop by the asyncgen hooks and held by these pools only.
        """
        keeper = self._until_loop_ends(on_close)
        step = keeper.asend(None)
        try:
            step.send(None)  # runs to the first yield at once: no await before it
        except StopIteration:
            self._keeper = keeper
        else:  # pragma: no cover - the generator body never suspends before its yield
            step.close()

    async def _until_loop_ends(self, on_close: Callable[[], None]) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            on_close()
            await self._streams_closed()
            await self.aclose()

    async def _streams_closed(self) -> None:
        """At the loop's shutdown, the streams left unfinished are closed by the same
        ``shutdown_asyncgens`` as this keeper, concurrently and in no set order (an outer
        generator closing the stream it holds takes a few steps): wait for them (bounded) so
        that the stops they schedule are sent before the pools close."""
        until = time.monotonic() + _BACKGROUND_GRACE
        await asyncio.sleep(0)
        while self.open_streams > 0 and time.monotonic() < until:
            await asyncio.sleep(_STREAMS_POLL)

    async def wait_background(self) -> None:
        """Wait for background tasks of the running loop (bounded), then cancel what is left."""
        loop = asyncio.get_running_loop()
        pending = {task for task in self.background if task.get_loop() is loop}
        if pending:
            _, late = await asyncio.wait(pending, timeout=_BACKGROUND_GRACE)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)

    async def aclose(self) -> None:
        await self.wait_background()
        clients, self._clients, self._busy = self._clients, [], []
        if self._aside is not None and self._aside not in clients:
            clients.append(self._aside)
        self._aside = None
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()
