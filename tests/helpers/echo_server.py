"""A service that echoes the caller's credentials back (a careless or hostile service): every
secret it was sent comes back in its error detail, its headers and its agent errors.

``EchoServer().url(mode)`` is a base URL whose path selects the mode (a base URL may carry a
path prefix):

- ``refuse``: every route answers ``403 {"detail": "denied for key <x-api-key>, token <x-token>"}``
  with the key in an ``x-denied-key`` header too;
- ``agent-error``: the stream route answers 200 with ``data: [ERROR] denied for key <key>`` and
  the one-shot route 500 with ``{"detail": "denied for key <key>"}`` (an agent crash).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

__all__ = ["EchoServer"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        key = self.headers.get("x-api-key", "")
        token = self.headers.get("x-token", "")
        mode, _, route = self.path.lstrip("/").partition("/")
        echo = f"denied for key {key}, token {token}"
        if mode == "agent-error" and "stream" in route:
            self._send(200, f"data: [ERROR] {echo}\n\n".encode(), "text/event-stream", key)
        elif mode == "agent-error" and "chat" in route:
            self._send(500, json.dumps({"detail": echo}).encode(), "application/json", key)
        else:
            self._send(403, json.dumps({"detail": echo}).encode(), "application/json", key)

    def _send(self, status: int, body: bytes, content_type: str, key: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-denied-key", key)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer


class EchoServer:
    """The server on a loopback port, in a daemon thread; a context manager."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/{mode}"

    def __enter__(self) -> EchoServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
