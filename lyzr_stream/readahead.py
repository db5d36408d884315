"""Read-ahead for async response bodies: zero-latency coalescing under load.

httpx yields a chunked body one HTTP chunk at a time, even when many chunks arrived in the same
socket read, so "text already in hand" cannot be seen chunk by chunk. :class:`ReadAhead` reads
the body in its own task into a small bounded queue; the consumer takes *everything already
queued* as one batch. Nothing ever waits for more: with a fast consumer each batch is a single
chunk, exactly as before; under load (1,000 concurrent streams) the chunks that piled up while
the consumer was busy leave together, as one delta, instead of one framework chunk each.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

__all__ = ["ReadAhead"]

#: Chunks held at most: the body keeps TCP backpressure when the consumer stops reading.
_QUEUE_CHUNKS = 64


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()
_DRAIN_POLL = 0.05


class ReadAhead:
    """One body's chunks, read ahead in a task; iterate :meth:`batches`, then :meth:`aclose`."""

    __slots__ = ("_queue", "_task")

    def __init__(self, chunks: AsyncGenerator[bytes, None]) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue(_QUEUE_CHUNKS)
        self._task = asyncio.get_running_loop().create_task(self._pump(chunks))

    async def _pump(self, chunks: AsyncGenerator[bytes, None]) -> None:
        try:
            async for chunk in chunks:
                await self._queue.put(chunk)
        except Exception as exc:  # transport errors go to the consumer, in order
            await self._queue.put(_Failed(exc))
            return
        finally:
            # Cancelled while waiting to queue a chunk, the body iterator is still suspended:
            # close it here, in its own task, so the response is released at once.
            await chunks.aclose()
        await self._queue.put(_END)

    async def batches(self) -> AsyncGenerator[bytes, None]:
        """Everything received since the last batch, joined; transport errors re-raised after
        the chunks that came before them."""
        queue = self._queue
        while True:
            item = await queue.get()
            parts: list[bytes] = []
            while item is not _END and type(item) is not _Failed:
                parts.append(item)  # type: ignore[arg-type]
                if queue.empty():
                    item = None
                    break
                item = queue.get_nowait()
            if parts:
                yield parts[0] if len(parts) == 1 else b"".join(parts)
            if item is _END:
                return
            if type(item) is _Failed:
                raise item.error

    async def aclose(self) -> None:
        """Wait for the read-ahead task to end (idempotent). Close the response first: its
        read then fails at once. The task is not cancelled: cancelling it while httpcore
        releases the connection would leave the pooled connection marked busy. Chunks still
        queued are dropped so that the task is never stuck on a full queue."""
        task = self._task
        while not task.done():
            while not self._queue.empty():
                self._queue.get_nowait()
            await asyncio.wait((task,), timeout=_DRAIN_POLL)
        # The consumer already has its outcome; an error of the aborted read adds nothing.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            task.result()
