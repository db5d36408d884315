"""Connection-level faults that ASGI cannot make: a raw TCP front in front of the app.

``Emulator.front_url`` leads here. The front reads the head (and the JSON body, for its
``session_id``) of the first request on each connection and acts on its ``x-emulator-fault``:

- ``reset``: reset the connection (TCP RST) before any response byte;
- ``reset-first:<k>``: reset the first ``k`` connections with this spec and session id, then
  behave;
- ``close-first:<k>``: close (FIN) the first ``k`` such connections without answering.

Anything else is forwarded byte for byte to the app (later requests on a kept-alive connection
are forwarded without inspection). ``Emulator.refusing_url`` is an address where nothing listens:
every connection is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading

from .faults import FAULT_HEADER
from .state import EmulatorState

__all__ = ["ConnectionFront", "unused_loopback_port"]

_MAX_HEAD = 64 * 1024


def unused_loopback_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _header(head: bytes, name: bytes) -> str | None:
    for line in head.split(b"\r\n")[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return None


def _session_of(body: bytes) -> str:
    try:
        value = json.loads(body)
    except ValueError:
        return ""
    session = value.get("session_id") if isinstance(value, dict) else None
    return str(session or "")


class ConnectionFront:
    """The TCP front, on its own event loop in a daemon thread."""

    def __init__(self, host: str, backend_port: int, state: EmulatorState) -> None:
        self._host = host
        self._backend_port = backend_port
        self._state = state
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = started.result(timeout=10)

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._handle, self._host, 0, limit=_MAX_HEAD)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _verdict(self, spec: str | None, body: bytes) -> str | None:
        """ "reset", "close" or None (forward)."""
        if not spec:
            return None
        kind, _, count = spec.partition(":")
        if kind == "reset" and not count:
            return "reset"
        if kind in ("reset-first", "close-first") and count.isdigit():
            attempt = self._state.count_attempt(spec, _session_of(body))
            if attempt <= int(count):
                return "reset" if kind == "reset-first" else "close"
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:  # the front is stopping
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(_header(head, b"content-length") or 0)
            body = await reader.readexactly(length) if length else b""
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError):
            writer.close()
            return
        verdict = self._verdict(_header(head, FAULT_HEADER.encode()), body)
        if verdict is not None:
            if verdict == "reset":
                sock = writer.get_extra_info("socket")
                # SO_LINGER with a zero timeout turns close() into a reset.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.close()
            return
        await self._forward(head + body, reader, writer)

    async def _forward(
        self, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self._host, self._backend_port)
        except OSError:
            writer.close()
            return
        up_writer.write(first)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                with contextlib.suppress(OSError):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
