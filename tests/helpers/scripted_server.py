"""A raw-socket HTTP/1.1 server whose every answer a test scripts: any status, content type
and body, for any route, sent lazily (a 1 GiB body is generated block by block, never built in
memory) or dripped.

``with ScriptedServer() as server:`` starts it on a free loopback port; ``server.route(method,
path_prefix, reply)`` answers the requests whose path starts with ``path_prefix`` with ``reply``
(a :class:`Reply`, or a function of the :class:`~lyzr_stream.emulator.state.RecordedRequest`
returning one). Unrouted requests get a 404. Every connection is closed after its answer.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType

from lyzr_stream.emulator.state import RecordedRequest

__all__ = ["Reply", "ScriptedServer", "drip", "repeat", "sse"]

_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """One answer. ``body``: bytes, or an iterable of byte blocks sent one after the other
    (lazily). ``length``: the announced ``Content-Length`` (default: the length of a bytes body;
    for an iterable, ``None`` sends it chunked)."""

    status: int = 200
    content_type: str = "application/json"
    body: bytes | Iterable[bytes] = b""
    length: int | None = None


Responder = Reply | Callable[[RecordedRequest], Reply]


def sse(*payloads: str) -> bytes:
    """``data:`` events, one per payload."""
    return b"".join(f"data: {p}\n\n".encode() for p in payloads)


def repeat(block: bytes, size: int) -> Iterator[bytes]:
    """``size`` bytes made of ``block`` repeated, generated as they are sent."""
    left = size
    while left > 0:
        yield block[: min(left, len(block))]
        left -= len(block)


def drip(piece: bytes, every: float, pieces: int | None = None) -> Iterator[bytes]:
    """``piece`` every ``every`` seconds (forever when ``pieces`` is None)."""
    sent = 0
    while pieces is None or sent < pieces:
        time.sleep(every)
        yield piece
        sent += 1


class ScriptedServer:
    """The server, one daemon thread per connection."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._routes: list[tuple[str, str, Responder]] = []
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        #: Bytes of answer bodies written to the kernel, per request path.
        self.sent: dict[str, int] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="scripted-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, prefix: str, reply: Responder) -> None:
        with self._lock:
            self._routes.insert(0, (method.upper(), prefix, reply))

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _reply_for(self, request: RecordedRequest) -> Reply:
        with self._lock:
            routes = list(self._routes)
        for method, prefix, reply in routes:
            if request.method == method and request.path.startswith(prefix):
                return reply(request) if callable(reply) else reply
        return Reply(404, "application/json", b'{"detail": "not found"}')

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = _read_request(conn)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            self._send(conn, request.path, self._reply_for(request))
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def _send(self, conn: socket.socket, path: str, reply: Reply) -> None:
        body = reply.body
        length = len(body) if isinstance(body, bytes) and reply.length is None else reply.length
        framing = "transfer-encoding: chunked" if length is None else f"content-length: {length}"
        head = (
            f"HTTP/1.1 {reply.status} Status\r\ncontent-type: {reply.content_type}\r\n"
            f"{framing}\r\nconnection: close\r\n\r\n"
        )
        conn.sendall(head.encode())
        blocks: Iterable[bytes] = [body] if isinstance(body, bytes) else body
        for block in blocks:
            if self._stopping.is_set():
                return
            if length is None:
                block = f"{len(block):x}\r\n".encode() + block + b"\r\n"
            conn.sendall(block)
            with self._lock:
                self.sent[path] = self.sent.get(path, 0) + len(block)
        if length is None:
            conn.sendall(b"0\r\n\r\n")


def _read_request(conn: socket.socket) -> RecordedRequest | None:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = conn.recv(65536)
        if not data or len(buffer) > _MAX_HEAD:
            return None
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, *_ = [*lines[0].split(" "), "", ""]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:
        data = conn.recv(65536)
        if not data:
            return None
        rest += data
    try:
        document = json.loads(rest[:length])
    except ValueError:
        document = None
    return RecordedRequest(method, path, headers, document)
