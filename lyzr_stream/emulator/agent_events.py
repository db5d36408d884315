"""The agent events channel: ``/ws/{session_id}?x-api-key=<key>`` (a WebSocket per session).

Like the Lyzr service, the emulator publishes what an agent does on the server to the sockets
subscribed to the session *at that moment*: nothing is replayed to a socket that connects
later. Scripted agents publish through :class:`EventHub` (``hub_of(app).publish(...)``); see
``event_agents.py``. A message is sent as it was published: a JSON object (a dict) or a raw
string (``ping``, ``[ERROR] ...``).

Faults, chosen by a marker in the session id (a socket has no room for request headers):

- ``ws-refuse``: the handshake is refused with HTTP 403 (as reported for headless clients);
- ``ws-stall``: the handshake is never answered (the connection waits 5 s, then closes);
- ``ws-drop``: the socket opens, sends garbage (invalid UTF-8 bytes, a non-JSON line) and
  closes at once with an error code.

A wrong or missing key is refused with 403 too.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .state import EmulatorState

__all__ = ["EventHub", "events_url_of", "hub_of", "routes"]

_STALL_SECONDS = 5.0
_Message = str | Mapping[str, Any]


class EventHub:
    """Per-session publish/subscribe. ``publish`` runs on the server's event loop.

    ``published(session_id)`` lists what was published (for tests), whether or not a socket
    was listening.
    """

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)
        self._lock = threading.Lock()
        self._published: dict[str, list[_Message]] = defaultdict(list)

    def subscribe(self, session_id: str) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers[session_id].add(queue)
        return queue

    def unsubscribe(self, session_id: str, queue: asyncio.Queue[str]) -> None:
        subscribers = self._subscribers.get(session_id)
        if subscribers is not None:
            subscribers.discard(queue)
            if not subscribers:
                del self._subscribers[session_id]

    def subscribers(self, session_id: str) -> int:
        return len(self._subscribers.get(session_id, ()))

    def publish(self, session_id: str, message: _Message) -> int:
        """Send ``message`` to the session's sockets; returns how many received it."""
        with self._lock:
            self._published[session_id].append(message)
        text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
        queues = self._subscribers.get(session_id, ())
        for queue in queues:
            queue.put_nowait(text)
        return len(queues)

    def published(self, session_id: str) -> list[_Message]:
        with self._lock:
            return list(self._published.get(session_id, ()))


def hub_of(app: Any) -> EventHub:
    """The app's hub (created on first use)."""
    hub: EventHub | None = getattr(app.state, "agent_event_hub", None)
    if hub is None:
        hub = app.state.agent_event_hub = EventHub()
    return hub


async def _forward(websocket: WebSocket, queue: asyncio.Queue[str]) -> None:
    while True:
        await websocket.send_text(await queue.get())


async def events_socket(websocket: WebSocket) -> None:
    session_id: str = websocket.path_params["session_id"]
    state: EmulatorState = websocket.app.state.emulator
    if websocket.query_params.get("x-api-key") != state.api_key or "ws-refuse" in session_id:
        await websocket.close(code=1008)  # before accept: the handshake answers HTTP 403
        return
    if "ws-stall" in session_id:
        await asyncio.sleep(_STALL_SECONDS)
        await websocket.close(code=1008)
        return
    await websocket.accept()
    if "ws-drop" in session_id:
        await websocket.send_bytes(b"\xff\xfe\x00garbage")
        await websocket.send_text("{not json")
        await websocket.close(code=1011)
        return
    hub = hub_of(websocket.app)
    queue = hub.subscribe(session_id)
    forward = asyncio.create_task(_forward(websocket, queue))
    try:
        # The client never sends anything that matters; receiving notices its close.
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.unsubscribe(session_id, queue)
        forward.cancel()
        await asyncio.gather(forward, return_exceptions=True)


routes = [WebSocketRoute("/ws/{session_id}", events_socket)]


def events_url_of(base_url: str) -> str:
    """The events channel URL of an emulator at ``base_url`` (``http://`` -> ``ws://``)."""
    return "ws" + base_url.removeprefix("http")
