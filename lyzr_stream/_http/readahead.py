"""Read-ahead for async response bodies: zero-latency coalescing under load.

httpx yields a chunked body one HTTP chunk at a time, even when many chunks arrived in the same
socket read, so "text already in hand" cannot be seen chunk by chunk. :class:`ReadAhead` reads
the body in its own task into a small bounded queue; the consumer takes *everything already
queued* as one batch. Nothing ever waits for more: with a fast consumer each batch is a single
chunk, exactly as before; under load (1,000 concurrent streams) the chunks that piled up while
the consumer was busy leave together, as one delta, instead of one framework chunk each.
Measured 2026-12-07 with ``make bench`` (its concurrency rows; alone: ``python -m
benchmarks.scenarios concurrency_chatlyzr URL '{"streams": 1000, "tokens": 200}'`` against
``python -m benchmarks.emulator_process --fast``): 1,000 concurrent ChatLyzr.astream streams x 200
tokens take 13.5 s and peak at 142 MB RSS with read-ahead, 28.8 s and 503 MB reading
``aiter_bytes()`` directly, 2.0x and 3.5x (medians of 7 interleaved rounds on 2 busy cores).

The reading task is held in a module-level set until it ends: a stream abandoned without being
closed is then finalized by the garbage collector while its reader is still referenced, and the
reader ends once the stream's cleanup closes the response (never "Task was destroyed but it is
pending"). :meth:`ReadAhead.next_batch` is a plain coroutine, not an async generator, so there is
no second generator for the collector to finalize concurrently with the stream's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator

__all__ = ["ReadAhead"]

#: Chunks held at most: the body keeps TCP backpressure when the consumer stops reading.
_QUEUE_CHUNKS = 64


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DRAIN_POLL = 0.05
#: Every reading task still running (strong references; see the module docstring).
_READERS: set[asyncio.Task[None]] = set()


class ReadAhead:
    """One body's chunks, read ahead in a task; call :meth:`next_batch`, then :meth:`aclose`."""

    __slots__ = ("_ended", "_failure", "_queue", "_task", "complete")

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        #: Chunks, then the end of the body (None) or the error that ended it.
        self._queue: asyncio.Queue[bytes | _Failed | None] = asyncio.Queue(_QUEUE_CHUNKS)
        self._ended = False
        self._failure: BaseException | None = None
        #: True once the whole body was read (its end reached without error).
        self.complete = False
        self._task = asyncio.get_running_loop().create_task(self._pump(chunks))
        _READERS.add(self._task)
        self._task.add_done_callback(_READERS.discard)

    async def _pump(self, chunks: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in chunks:
                await self._queue.put(chunk)
        except Exception as exc:  # transport errors go to the consumer, in order
            await self._queue.put(_Failed(exc))
            return
        finally:
            # Cancelled while waiting to queue a chunk, the body iterator is still suspended:
            # close it here, in its own task, so the response is released at once. (httpx
            # declares an AsyncIterator; what it returns is an async generator.)
            if isinstance(chunks, AsyncGenerator):
                await chunks.aclose()
        self.complete = True
        await self._queue.put(None)

    async def next_batch(self) -> bytes | None:
        """Everything received since the last batch, joined; None at the end of the body.
        A transport error is raised after the chunks that came before it."""
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        if self._ended:
            return None
        queue = self._queue
        item = await queue.get()
        parts: list[bytes] = []
        while isinstance(item, bytes):
            parts.append(item)
            if queue.empty():
                return _joined(parts)
            item = queue.get_nowait()
        if item is None:
            self._ended = True
        elif parts:
            self._failure = item.error
        else:
            raise item.error
        return _joined(parts) if parts else None

    async def finish(self, within: float) -> bool:
        """Let the rest of the body be read for at most ``within`` seconds, discarding it;
        True when the body ended in time."""
        until = time.monotonic() + within
        task = self._task
        while not task.done():
            left = until - time.monotonic()
            if left <= 0:
                break
            self._discard_queued()
            await asyncio.wait((task,), timeout=min(left, _DRAIN_POLL))
        return self.complete

    def _discard_queued(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def aclose(self) -> None:
        """Wait for the read-ahead task to end (idempotent). Close the response first: its
        read then fails at once. The task is not cancelled: cancelling it while httpcore
        releases the connection would leave the pooled connection marked busy. Chunks still
        queued are dropped so that the task is never stuck on a full queue."""
        task = self._task
        while not task.done():
            self._discard_queued()
            await asyncio.wait((task,), timeout=_DRAIN_POLL)
        # The consumer already has its outcome; an error of the aborted read adds nothing.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            task.result()


def _joined(parts: list[bytes]) -> bytes:
    return parts[0] if len(parts) == 1 else b"".join(parts)
