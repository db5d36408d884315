"""Running the playground: :class:`PlaygroundServer` (uvicorn in a background thread, for tests
and embedding) and :func:`serve` (in the foreground, for the command line)."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

__all__ = ["LOOPBACK", "PlaygroundServer", "serve"]

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    # A stopped page must not hold shutdown for long: open streams get 3 s to finish.
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=3
    )


class PlaygroundServer:
    """``with PlaygroundServer(app) as server:`` serves ``app`` on ``server.url`` (port 0: a
    free one) until the block ends."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._server = uvicorn.Server(_config(app, host, port))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        servers = getattr(self._server, "servers", None)
        if not servers:
            raise RuntimeError("the playground server is not running")
        port: int = servers[0].sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> PlaygroundServer:
        self._thread = threading.Thread(target=self._server.run, name="playground", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the playground server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> PlaygroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(app: Starlette, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``app`` in the foreground until Ctrl-C."""
    uvicorn.Server(_config(app, host, port)).run()
