"""A Lyzr v3 service whose agent floods its events channel, on raw sockets.

``FloodServer(flood=n)`` serves ``/ws/{session_id}``, a WebSocket that sends ``n`` progress
events (``tool_calling_iteration``, numbered by ``iteration`` from 0, each its own ``log_id``)
as fast as the client reads them, then bursts of 200 more every 10 ms until the client closes
it; and ``POST /v3/inference/stream/``, which waits until the session's first ``n`` events were
written (and, with ``hold_answer=True``, until the test calls ``release(session_id)``), then
streams :data:`FLOOD_ANSWER` word by word (10 ms apart) and ``[DONE]``.
``finished_at(session_id)`` is when ``[DONE]`` was written (``time.monotonic``): when the
service finished the answer. Raw sockets, so that a test measures the client: the emulator
takes seconds to send 100,000 WebSocket messages.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import select
import socket
import struct
import threading
import time
from typing import Any
from urllib.parse import unquote

from lyzr_stream.emulator.agents import words
from tests.helpers.hostile_servers import _chunk, _head, _read_request, _sse

__all__ = ["FLOOD_ANSWER", "FloodServer"]

FLOOD_ANSWER = "The whole answer, however many progress events the agent reports around it."
_BURST = 200
_PAUSE = 0.01
_FRAGMENT_DELAY = 0.01
_LIMIT = 30.0
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CLOSE_FRAME = b"\x88\x02\x03\xe8"  # close, code 1000


def _frame(text: bytes) -> bytes:
    """One unmasked text frame (server to client)."""
    size = len(text)
    if size < 126:
        return bytes((0x81, size)) + text
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + text
    return struct.pack("!BBQ", 0x81, 127, size) + text


def _frames(first: int, count: int) -> bytes:
    return b"".join(
        _frame(
            json.dumps(
                {
                    "event_type": "tool_calling_iteration",
                    "level": "INFO",
                    "status": "in_progress",
                    "message": f"iteration {i}",
                    "iteration": i,
                    "log_id": f"flood-{i}",
                }
            ).encode()
        )
        for i in range(first, first + count)
    )


def _closed_by_client(conn: socket.socket) -> bool:
    """The client sent something (its close frame) or left: answer the close, stop."""
    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    with contextlib.suppress(OSError):
        conn.recv(65536)
        conn.sendall(_CLOSE_FRAME)
    return True


class FloodServer:
    """The server, one daemon thread per connection."""

    def __init__(self, flood: int = 100_000, *, hold_answer: bool = False) -> None:
        self.flood = flood
        self._hold = hold_answer
        self._released: dict[str, threading.Event] = {}
        self._payload = _frames(0, flood)  # built once, before any client measures time
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._written: dict[str, threading.Event] = {}
        self._finished: dict[str, float] = {}
        self._stopping = threading.Event()
        threading.Thread(target=self._accept, name="flood-server", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def finished_at(self, session_id: str) -> float | None:
        with self._lock:
            return self._finished.get(session_id)

    def release(self, session_id: str) -> None:
        """Let a held answer go."""
        self._event(self._released, session_id).set()

    def close(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()

    def __enter__(self) -> FloodServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _event(self, events: dict[str, threading.Event], session_id: str) -> threading.Event:
        with self._lock:
            return events.setdefault(session_id, threading.Event())

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            buffer = b""
            while True:
                request, buffer = _read_request(conn, buffer)
                if request is None:
                    return
                path = request.path.partition("?")[0]
                if path.startswith("/ws/"):
                    self._events(conn, unquote(path[4:]), request.headers)
                    return
                self._answer(conn, request.json)

    def _events(self, conn: socket.socket, session_id: str, headers: dict[str, str]) -> None:
        key = headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            + f"sec-websocket-accept: {accept}\r\n\r\n".encode()
        )
        conn.sendall(self._payload)  # returns once the client read all but the socket buffers
        self._event(self._written, session_id).set()
        deadline = time.monotonic() + _LIMIT
        sent = self.flood
        while time.monotonic() < deadline and not _closed_by_client(conn):
            conn.sendall(_frames(sent, _BURST))
            sent += _BURST
            time.sleep(_PAUSE)

    def _answer(self, conn: socket.socket, body: Any) -> None:
        session_id = str(body.get("session_id", "")) if isinstance(body, dict) else ""
        self._event(self._written, session_id).wait(_LIMIT)
        if self._hold:
            self._event(self._released, session_id).wait(_LIMIT)
        conn.sendall(_head(200, "text/event-stream", None))
        for fragment in words(FLOOD_ANSWER):
            conn.sendall(_chunk(_sse(fragment)))
            time.sleep(_FRAGMENT_DELAY)
        conn.sendall(_chunk(_sse("[DONE]")) + b"0\r\n\r\n")
        with self._lock:
            self._finished[session_id] = time.monotonic()
