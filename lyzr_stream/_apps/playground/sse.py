"""Server-Sent Events to the page, and closing the agent's stream the moment the page leaves.

Starlette's ``StreamingResponse`` notices a departed client only when its next write fails (ASGI
2.4), so an agent that is silent for a while (thinking, running a tool) would keep streaming to
nobody; and the generator is then left for the garbage collector to close. Here a second task
waits for ``http.disconnect`` and cancels the relay at once; the cancellation runs through the
framework's stream, whose ``finally`` closes the HTTP response to the agent service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any

__all__ = ["EventStreamResponse", "encode_event"]

Scope = Mapping[str, Any]
Message = dict[str, Any]


def encode_event(event: Mapping[str, Any]) -> bytes:
    """One SSE event: a ``data:`` line of JSON (``type`` says what it is) and a blank line.

    JSON never contains a raw newline, so one line always holds the whole event.
    """
    return b"data: " + json.dumps(event, ensure_ascii=False, default=str).encode() + b"\n\n"


class EventStreamResponse:
    """An ASGI response relaying ``events`` as SSE until they end or the client disconnects.

    ``until``: an awaitable that ends the stream the same way when it completes (the server
    shutting down: open answers end at once, their agent streams closed, instead of holding
    the shutdown until a timeout cancels them); ``last_words`` is then sent as the last event.
    """

    headers = (
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-store"),
        (b"x-accel-buffering", b"no"),
    )

    def __init__(
        self,
        events: AsyncIterator[Mapping[str, Any]],
        until: Awaitable[Any] | None = None,
        last_words: Mapping[str, Any] | None = None,
    ) -> None:
        self._events = events
        self._until = until
        self._last_words = last_words
        self._started = False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        relay = asyncio.ensure_future(self._relay(send))
        watchers = [asyncio.ensure_future(self._wait_for_disconnect(receive))]
        if self._until is not None:
            watchers.append(asyncio.ensure_future(self._until))
        finished: set[asyncio.Future[Any]] = set()
        try:
            tasks = {relay, *watchers}
            finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # One cancellation each: the relay's generators run their cleanup (closing the
            # agent's stream) with ordinary awaits, as asyncio delivers it only once.
            for task in (relay, *watchers):
                task.cancel()
            outcome, *_ = await asyncio.gather(relay, *watchers, return_exceptions=True)
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        if isinstance(outcome, Exception):
            raise outcome  # a bug, not a departed client: let the server log it
        if isinstance(outcome, asyncio.CancelledError) and self._started:
            # Ended by a watcher: finish the response properly if the client is still there.
            ended_by_until = any(task in finished for task in watchers[1:])
            last = encode_event(self._last_words) if ended_by_until and self._last_words else b""
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": last, "more_body": False})

    async def _relay(self, send: Any) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": list(self.headers)}
        await send(start)
        self._started = True
        try:
            async for event in self._events:
                await send(
                    {"type": "http.response.body", "body": encode_event(event), "more_body": True}
                )
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            return  # the client went away between two events

    @staticmethod
    async def _wait_for_disconnect(receive: Any) -> None:
        while True:
            message: Message = await receive()
            if message.get("type") == "http.disconnect":
                return
