"""Running the playground: :class:`PlaygroundServer` (uvicorn in a background thread, for tests
and embedding) and :func:`serve` (in the foreground, for the command line)."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette

__all__ = ["LOOPBACK", "PlaygroundServer", "serve"]

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _server(app: Starlette, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=5
    )
    return _Server(config, app)


class _Server(uvicorn.Server):
    """Ends the open answers first when shutting down: an SSE response never ends by itself,
    so uvicorn's graceful wait would otherwise run out and cancel them."""

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self.playground_app = app

    async def shutdown(self, *args: Any, **kwargs: Any) -> None:
        state = getattr(self.playground_app.state, "playground", None)
        if state is not None:
            state.begin_shutdown()
        await super().shutdown(*args, **kwargs)


class PlaygroundServer:
    """``with PlaygroundServer(app) as server:`` serves ``app`` on ``server.url`` (port 0: a
    free one) until the block ends."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._server = _server(app, host, port)
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
    _server(app, host, port).run()
