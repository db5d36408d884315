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
from collections.abc import AsyncIterator, Mapping
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
    """An ASGI response relaying ``events`` as SSE until they end or the client disconnects."""

    headers = (
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-store"),
        (b"x-accel-buffering", b"no"),
    )

    def __init__(self, events: AsyncIterator[Mapping[str, Any]]) -> None:
        self._events = events

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        relay = asyncio.ensure_future(self._relay(send))
        watch = asyncio.ensure_future(self._wait_for_disconnect(receive))
        try:
            await asyncio.wait({relay, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # One cancellation each: the relay's generators run their cleanup (closing the
            # agent's stream) with ordinary awaits, as asyncio delivers it only once.
            for task in (relay, watch):
                task.cancel()
            outcome, _ = await asyncio.gather(relay, watch, return_exceptions=True)
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        if isinstance(outcome, Exception):
            raise outcome  # a bug, not a departed client: let the server log it

    async def _relay(self, send: Any) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": list(self.headers)}
        await send(start)
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
