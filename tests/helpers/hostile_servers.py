"""A hostile HTTP/1.1 server on raw sockets: misbehaviour that a well-behaved ASGI server
cannot produce (uvicorn refuses to send more than ``Content-Length``, to reset after a chunk, or
to keep a finished answer's connection silent).

``shared_hostile_server().url`` leads here. It answers the Lyzr v3 stream and chat routes with the
echo agent's answer (``You said: <message>``, one event per word; the ``long-<n>`` agent's tokens on
the stream route) and misbehaves according to the request's ``x-emulator-fault`` header:

- ``done-then-hold[:<s>]``: the stream's ``[DONE]``, then silence with the connection open (no
  end of the chunked body) for ``s`` seconds (default 30) or until the client leaves;
- ``done-then-reset``: ``[DONE]``, then a TCP reset instead of the end of the body;
- ``done-then-keepalive[:<s>]``: ``[DONE]``, then a ``: keepalive`` comment every 50 ms;
- ``drip:<s>``: the answer (stream or JSON) dripped in small pieces over ``s`` seconds;
- ``drip-error:<s>``: a 500 whose JSON body is dripped over ``s`` seconds;
- ``huge-error:<MB>``: a 500 with a JSON ``detail`` of that many megabytes;
- ``huge-text-error:<MB>``: a 500 with a plain-text body of that many megabytes;
- ``huge-json:<MB>``: a 200 one-shot JSON answer of that many megabytes;
- ``overlong``: a one-shot answer followed by bytes its ``Content-Length`` did not announce
  (a whole second HTTP response, to show whether a client would take it for the next answer).

A message ``hostile:<fault>`` selects the fault too (so that one client can send a faulty request,
then a clean one on the same pooled connection). Without a fault it answers like the emulator.
Every request is recorded in ``requests``.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator

from lyzr_stream.emulator.agents import long_answer_tokens, words
from lyzr_stream.emulator.state import RecordedRequest

__all__ = ["SMUGGLED", "HostileServer", "shared_hostile_server"]

_MAX_HEAD = 64 * 1024
#: The text of the response a hostile ``overlong`` answer tries to slip into the connection.
SMUGGLED = "SMUGGLED ANSWER"


class _ClientGone(Exception):
    pass


class HostileServer:
    """The server, one thread per connection (daemon threads: it never blocks exit)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(256)
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._thread = threading.Thread(target=self._accept, name="hostile-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._thread.join(timeout=5)

    # -- connections -----------------------------------------------------------------------
    def _accept(self) -> None:
        self._listener.settimeout(0.1)  # closing a socket does not wake a blocked accept()
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        try:
            while not self._stopping.is_set():
                request, buffer = _read_request(conn, buffer)
                if request is None:
                    return
                with self._lock:
                    self._requests.append(request)
                if not self._answer(conn, request):
                    return
        except (_ClientGone, OSError):
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def _answer(self, conn: socket.socket, request: RecordedRequest) -> bool:
        """Answer one request; False when the connection must not be used again."""
        body = request.json if isinstance(request.json, dict) else {}
        message = _message_of(body)
        # The fault comes from the header, or from a message "hostile:<fault>" (so that one
        # client can send a faulty request and then a clean one on the same connection).
        fault = request.headers.get("x-emulator-fault", "")
        if message.startswith("hostile:"):
            fault = message.removeprefix("hostile:")
        kind, _, arg = fault.partition(":")
        text = f"You said: {message}"
        is_stream = request.path.startswith("/v3/inference/stream")
        if kind in ("huge-error", "huge-text-error"):
            _huge_error(conn, int(float(arg or "50") * 1_000_000), kind == "huge-error")
            return False
        if kind == "drip-error":
            document = json.dumps({"detail": "the agent failed (dripped error)"}).encode()
            _drip(conn, 500, "application/json", document, float(arg or "5"))
            return False
        if kind == "huge-json":
            size = int(float(arg or "50") * 1_000_000)
            _huge_json(conn, size)
            return False
        if not is_stream:
            document = json.dumps(_chat_document(text, body)).encode()
            if kind == "drip":
                _drip(conn, 200, "application/json", document, float(arg or "5"))
                return False
            extra = _smuggled() if kind == "overlong" else b""
            conn.sendall(_head(200, "application/json", len(document)) + document + extra)
            return True
        agent = str(body.get("agent_id", ""))
        tokens = words(text)
        if agent.startswith("long-") and agent[5:].isdigit():
            tokens = tuple(long_answer_tokens(int(agent[5:])))
        events = [_sse(w) for w in tokens]
        if kind == "drip":
            _drip(conn, 200, "text/event-stream", b"".join(events) + _sse("[DONE]"), float(arg))
            return False
        conn.sendall(_head(200, "text/event-stream", None))
        for event in events:
            conn.sendall(_chunk(event))
        conn.sendall(_chunk(_sse("[DONE]")))
        if kind == "done-then-hold":
            _wait_for_close(conn, float(arg or "30"))
            return False
        if kind == "done-then-reset":
            # A reset discards what is still unsent: wait until the client has the end marker,
            # so that the reset really comes after it.
            _wait_until_sent(conn, 10.0)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if kind == "done-then-keepalive":
            until = time.monotonic() + float(arg or "30")
            while time.monotonic() < until:
                conn.sendall(_chunk(b": keepalive\n\n"))
                if _wait_for_close(conn, 0.05):
                    return False
            return False
        conn.sendall(b"0\r\n\r\n")
        return True


def _message_of(body: dict[str, object]) -> str:
    """The user's message: ``message``, or the last user entry of ``messages`` (lyzr-adk form)."""
    message = body.get("message")
    if isinstance(message, str) and message:
        return message
    messages = body.get("messages")
    if isinstance(messages, list):
        for entry in reversed(messages):
            if isinstance(entry, dict) and entry.get("role") == "user":
                content = entry.get("content")
                return content if isinstance(content, str) else json.dumps(content)
    return ""


def _read_request(conn: socket.socket, buffer: bytes) -> tuple[RecordedRequest | None, bytes]:
    while b"\r\n\r\n" not in buffer:
        data = conn.recv(65536)
        if not data:
            return None, b""
        buffer += data
        if len(buffer) > _MAX_HEAD:
            return None, b""
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
            return None, b""
        rest += data
    body = rest[:length]
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    return RecordedRequest(method, path, headers, document), rest[length:]


def _head(status: int, content_type: str, length: int | None) -> bytes:
    framing = "transfer-encoding: chunked" if length is None else f"content-length: {length}"
    reason = {200: "OK", 500: "Internal Server Error"}.get(status, "Status")
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n{framing}\r\n\r\n"
    ).encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _sse(data: str) -> bytes:
    return f"data: {data}\n\n".encode()


def _chat_document(text: str, body: dict[str, object]) -> dict[str, object]:
    return {
        "response": text,
        "message_id": "hostile-1",
        "session_id": body.get("session_id"),
        "metadata": {},
        "tool_calls": [],
        "module_outputs": {"artifact_files": []},
    }


def _smuggled() -> bytes:
    fake = json.dumps(_chat_document(SMUGGLED, {})).encode()
    return _head(200, "application/json", len(fake)) + fake


def _wait_until_sent(conn: socket.socket, seconds: float) -> None:
    """Wait until the kernel has sent (and the peer acknowledged) everything written."""
    try:
        import fcntl
        import termios
    except ImportError:  # not POSIX
        time.sleep(0.1)
        return
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        try:
            unsent = struct.unpack("i", fcntl.ioctl(conn, termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        except OSError:
            time.sleep(0.1)  # no such query here: a short grace instead
            return
        if unsent == 0:
            return
        time.sleep(0.005)


def _wait_for_close(conn: socket.socket, seconds: float) -> bool:
    """Wait up to ``seconds``; True as soon as the client closed (or reset) the connection."""
    until = time.monotonic() + seconds
    while (left := until - time.monotonic()) > 0:
        readable, _, _ = select.select([conn], [], [], min(left, 0.5))
        if readable:
            try:
                if not conn.recv(65536):
                    return True
            except OSError:
                return True
    return False


def _drip(conn: socket.socket, status: int, content_type: str, body: bytes, seconds: float) -> None:
    """The body in about 20 pieces, spread evenly over ``seconds``."""
    conn.sendall(_head(status, content_type, len(body)))
    pieces = max(1, min(20, len(body)))
    size = -(-len(body) // pieces)
    for start in range(0, len(body), size):
        if _wait_for_close(conn, seconds / pieces):
            return
        conn.sendall(body[start : start + size])


def _pieces(prefix: bytes, size: int, suffix: bytes) -> Iterator[bytes]:
    yield prefix
    block = b"x" * 65536
    left = size
    while left > 0:
        yield block[: min(left, len(block))]
        left -= len(block)
    yield suffix


def _send_all(conn: socket.socket, parts: Iterator[bytes]) -> None:
    """Send until done or the client leaves (a client that caps its read closes early)."""
    try:
        for part in parts:
            conn.sendall(part)
    except OSError:
        return


def _huge_error(conn: socket.socket, size: int, as_json: bool) -> None:
    prefix, suffix = (b'{"detail": "', b'"}') if as_json else (b"", b"")
    content_type = "application/json" if as_json else "text/plain"
    conn.sendall(_head(500, content_type, len(prefix) + size + len(suffix)))
    _send_all(conn, _pieces(prefix, size, suffix))


def _huge_json(conn: socket.socket, size: int) -> None:
    prefix, suffix = b'{"response": "', b'", "message_id": "m", "metadata": {}}'
    conn.sendall(_head(200, "application/json", len(prefix) + size + len(suffix)))
    _send_all(conn, _pieces(prefix, size, suffix))


_SHARED: HostileServer | None = None
_SHARED_LOCK = threading.Lock()


def shared_hostile_server() -> HostileServer:
    """One hostile server for the whole test run, started on first use (daemon threads)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = HostileServer("127.0.0.1")
        return _SHARED
