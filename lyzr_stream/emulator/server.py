"""``Emulator``: the app on uvicorn in a background thread, on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import uvicorn

from .app import create_app
from .front import ConnectionFront, unused_loopback_port
from .http import STORE_ATTRIBUTES, quiet_injected_disconnects
from .knowledge import KnowledgeBases
from .state import EMULATOR_API_KEY, EmulatorState, RecordedRequest
from .tasks import TaskStore

__all__ = ["Emulator"]

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class Emulator:
    """A real HTTP server imitating the agent services, for tests, demos and benchmarks.

    ``with Emulator() as em:`` starts it on a free port (``em.base_url``) and stops it after.
    Only loopback addresses are allowed unless ``allow_remote=True``.
    """

    def __init__(
        self,
        api_key: str = EMULATOR_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        stream_format: str = "text",
        *,
        events_per_write: int = 1,
        fast: bool = False,
        allow_remote: bool = False,
    ) -> None:
        if host not in _LOOPBACK and not allow_remote:
            raise ValueError(f"the emulator listens on loopback only, not {host!r}")
        self.api_key = api_key
        self.host = host
        self._requested_port = port
        # fast=True: uvloop and httptools (installed for the benchmarks), so that the server
        # outruns the client under test; the default (asyncio, h11) needs nothing extra.
        self._fast = fast
        self.app = create_app(api_key, stream_format, events_per_write)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._front: ConnectionFront | None = None
        self._refusing_port: int | None = None

    @property
    def state(self) -> EmulatorState:
        state: EmulatorState = self.app.state.emulator
        return state

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def front_url(self) -> str:
        """The same service behind a raw TCP front that can reset or close connections before
        any response byte (``x-emulator-fault: reset``, ``reset-first:<k>``,
        ``close-first:<k>``). Started on first use."""
        if self._front is None:
            front = ConnectionFront(self.host, self.port, self.state)
            front.start()
            self._front = front
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._front.port}"

    @property
    def refusing_url(self) -> str:
        """A loopback address where nothing listens: every connection is refused."""
        if self._refusing_port is None:
            self._refusing_port = unused_loopback_port()
        return f"http://127.0.0.1:{self._refusing_port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    @property
    def stop_requests(self) -> list[str]:
        """Session ids of the stop requests received (``POST .../session/{id}/stop``)."""
        return self.state.stop_requests

    # -- knowledge bases --
    def add_knowledge_base(self, rag_id: str, chunks: Sequence[Mapping[str, Any] | str]) -> None:
        """Serve a knowledge base ``rag_id`` (on the retrieval route, ``rag_base_url`` =
        ``base_url``) holding ``chunks``: texts, or retrieval results without ``score``
        (``{"text", "source"?, "metadata"?, "page"?, ...}``). Forgotten by :meth:`reset`; the
        built-in ``kb-handbook`` and ``kb-empty`` stay."""
        KnowledgeBases.of(self.app).add(rag_id, chunks)

    @property
    def tasks(self) -> list[dict[str, Any]]:
        """The background tasks created since the last reset, oldest first: ``task_id``,
        ``agent_id``, ``session_id``, ``status``, ``polls`` (answered so far), ``error``."""
        return TaskStore.of(self.app).summaries()

    def reset(self) -> None:
        """Forget recorded requests, session memory, created sessions, uploads, added knowledge
        bases, fault counters."""
        self.state.reset()
        # Every AppStore, made again, empty, on first use (the agent-event hub holds live
        # sockets: kept).
        for store in STORE_ATTRIBUTES:
            if hasattr(self.app.state, store):
                delattr(self.app.state, store)

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        quiet_injected_disconnects()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
        # and without it every response pays a 40 ms delayed ACK on a kept-alive connection.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(2048)
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            loop="uvloop" if self._fast else "asyncio",
            http="httptools" if self._fast else "h11",
            backlog=2048,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="lyzr-emulator", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.005)
        self._server, self._thread, self._socket = server, thread, sock
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        if self._front is not None:
            self._front.stop()
            self._front = None
        server.should_exit = True
        thread.join(timeout=10)
        self._socket.close()
        self._server = self._thread = None
        self._port = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "stopped"
        return f"Emulator({where})"
