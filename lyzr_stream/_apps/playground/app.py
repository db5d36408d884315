"""The playground's web app: one page, its script and style, and a small JSON + SSE API.

Routes: ``GET /`` (the page), ``GET /static/playground.js`` and ``.css``, ``GET /api/config``,
``POST /api/session`` (a new session id, or a typed one checked), ``POST /api/stream`` (one
answer as Server-Sent Events, see :func:`turn_events` for the event types).

The API key stays in this process: it is in the models, never in a response. Agent text is
untrusted: the page only ever sets it as text, and every response carries a Content Security
Policy that allows no inline script. A page on another site cannot drive the agent through a
visitor's browser: requests must name a loopback ``Host`` (no DNS rebinding), POSTs must be
``application/json`` (no simple cross-site form posts) and carry no foreign ``Origin``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..._errors import InvalidRequestError, LyzrError
from ..._version import __version__
from .backends import Activity, Backend, Delta, Final, ModelSettings, Turn, backend_for
from .sse import EventStreamResponse

__all__ = ["PlaygroundConfig", "RunRecord", "create_app", "turn_events"]

STATIC = Path(__file__).resolve().parent / "static"
_ASSETS = {"playground.js": "text/javascript", "playground.css": "text/css"}
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
_HEADERS = tuple(SECURITY_HEADERS.items())
_SERVER_STOPPED = {
    "type": "error",
    "error": "ServerStopped",
    "message": "the playground server stopped; the agent's stream was closed",
    "partial_text": "",
}
_MAX_MESSAGE_CHARS = 100_000
_MAX_VARIABLES = 100


@dataclass(frozen=True)
class PlaygroundConfig:
    """What the playground serves. ``models`` says how to reach the agent (key included)."""

    agent_id: str
    models: ModelSettings = field(default_factory=ModelSettings)
    #: Agent ids offered in the page's agent field (the emulator's, with ``--emulator``).
    agent_suggestions: tuple[str, ...] = ()
    emulator: bool = False
    #: Serve requests for any Host (only with a non-loopback bind address, on purpose).
    allow_remote: bool = False


@dataclass
class RunRecord:
    """One answer as the server saw it. ``outcome``: ``streaming`` until it ends, then
    ``completed``, ``error`` or ``stopped`` (the page left: the agent's stream was closed)."""

    run_id: int
    agent_id: str
    session_id: str
    outcome: str = "streaming"
    chunks: int = 0


@dataclass
class PlaygroundState:
    config: PlaygroundConfig
    backend: Backend
    runs: list[RunRecord] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    #: Set when the server shuts down (made in the server's event loop, on first use).
    _closing: asyncio.Event | None = None
    _closed: bool = False

    def closing(self) -> asyncio.Event:
        if self._closing is None:
            self._closing = asyncio.Event()
            if self._closed:
                self._closing.set()
        return self._closing

    @property
    def shutting_down(self) -> bool:
        return self._closed

    def begin_shutdown(self) -> None:
        """Ends every open answer (their agent streams are closed) and refuses new ones."""
        self._closed = True
        if self._closing is not None:
            self._closing.set()

    @property
    def open_streams(self) -> int:
        return sum(1 for run in self.runs if run.outcome == "streaming")

    def new_run(self, turn: Turn) -> RunRecord:
        record = RunRecord(next(self._ids), turn.agent_id, turn.session_id)
        self.runs.append(record)
        del self.runs[:-200]  # a long-lived page must not grow this without bound
        return record

    def redact(self, text: str) -> str:
        """Belt and braces: the package never puts the key in a message; this makes sure."""
        key = self.config.models.api_key
        secret = key.get_secret_value() if key is not None else ""
        return text.replace(secret, "***") if len(secret) >= 4 else text


async def turn_events(
    state: PlaygroundState, turn: Turn, record: RunRecord
) -> AsyncIterator[dict[str, Any]]:
    """The events of one answer, in order:

    - ``start``: ``run``, ``agent_id``, ``session_id``, ``framework``, ``dialect``;
    - ``text`` / ``reasoning``: ``text`` (a delta);
    - ``timeline``: ``kind`` (``tool_call``, ``tool_result``, ``agent_event``,
      ``local_tool_call``, or any other kind a framework reports), ``name``, ``data``, ``t_ms``
      (since the question);
    - then ``done`` (``session_id``, ``message_id``, ``finish_reason``) or ``error`` (``error``:
      the exception type, ``message``, ``partial_text``: what had arrived), both with
      ``first_token_ms``, ``total_ms`` and ``chunks``. (When the server stops mid-answer, the
      response adds an ``error`` of type ``ServerStopped`` instead.)
    """
    models = state.config.models
    started = time.perf_counter()
    first: float | None = None
    text: list[str] = []
    final: Mapping[str, Any] = {}

    def timing() -> dict[str, Any]:
        return {
            "first_token_ms": None if first is None else round((first - started) * 1000, 1),
            "total_ms": round((time.perf_counter() - started) * 1000, 1),
            "chunks": record.chunks,
        }

    yield {
        "type": "start",
        "run": record.run_id,
        "agent_id": turn.agent_id,
        "session_id": turn.session_id,
        "framework": models.framework,
        "dialect": models.dialect,
    }
    pieces = state.backend.pieces(turn)
    try:
        async for piece in pieces:
            if isinstance(piece, Delta):
                if first is None:
                    first = time.perf_counter()
                record.chunks += 1
                if piece.kind == "text":
                    text.append(piece.text)
                yield {"type": piece.kind, "text": piece.text}
            elif isinstance(piece, Activity):
                elapsed = round((time.perf_counter() - started) * 1000, 1)
                yield {
                    "type": "timeline",
                    "kind": piece.kind,
                    "name": piece.name,
                    "data": piece.data,
                    "t_ms": elapsed,
                }
            elif isinstance(piece, Final):
                final = piece.metadata
        record.outcome = "completed"
        yield {
            "type": "done",
            "session_id": final.get("session_id") or turn.session_id,
            "message_id": final.get("message_id"),
            "finish_reason": final.get("finish_reason"),
            **timing(),
        }
    except Exception as error:
        # LyzrErrors carry the text delivered before the failure; anything else is reported
        # by type with the text relayed so far (a framework bug must not lose the answer).
        record.outcome = "error"
        partial = getattr(error, "partial_text", "") if isinstance(error, LyzrError) else ""
        yield {
            "type": "error",
            "error": type(error).__name__,
            "message": state.redact(str(error)),
            "partial_text": partial or "".join(text),
            **timing(),
        }
    finally:
        # Reached on a stop too (the relay was cancelled): closing here ends the agent's stream.
        await pieces.aclose()
        if record.outcome == "streaming":
            record.outcome = "stopped"


def _bad_request(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise InvalidRequestError("the request body is not JSON") from exc
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    return body


def _text_field(body: Mapping[str, Any], name: str, *, required: bool, limit: int) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise InvalidRequestError(f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be a string")
    if len(value) > limit:
        raise InvalidRequestError(f"{name} is longer than {limit} characters")
    return value


def _variables(body: Mapping[str, Any]) -> dict[str, str]:
    value = body.get("variables") or {}
    if not isinstance(value, dict) or len(value) > _MAX_VARIABLES:
        raise InvalidRequestError(f"variables must be an object of at most {_MAX_VARIABLES} names")
    out = {}
    for name, item in value.items():
        if not name.strip() or not isinstance(item, str):
            raise InvalidRequestError("each variable needs a name and a string value")
        out[name.strip()] = item
    return out


def create_app(config: PlaygroundConfig, backend: Backend | None = None) -> Starlette:
    """The playground app. Builds the default agent's model now, so a missing key or a bad
    option fails here (``InvalidRequestError``), not at the first question."""
    if not config.agent_id:
        raise InvalidRequestError("the playground needs an agent id")
    backend = backend if backend is not None else backend_for(config.models)
    backend.new_session_id(config.agent_id)
    state = PlaygroundState(config, backend)

    async def page(request: Request) -> Response:
        return Response((STATIC / "index.html").read_bytes(), media_type="text/html")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ASSETS:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response((STATIC / name).read_bytes(), media_type=_ASSETS[name])

    async def api_config(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "agent_id": config.agent_id,
                "framework": config.models.framework,
                "dialect": config.models.dialect,
                "emulator": config.emulator,
                "agents": list(config.agent_suggestions),
                "unsupported": sorted(backend.unsupported_fields(config.agent_id)),
                "version": __version__,
            }
        )

    async def api_session(request: Request) -> JSONResponse:
        try:
            body = await _json_body(request)
            agent_id = _text_field(body, "agent_id", required=False, limit=200) or config.agent_id
            wanted = _text_field(body, "session_id", required=False, limit=500)
            if wanted:
                backend.check_session_id(agent_id, wanted)
                return JSONResponse({"session_id": wanted})
            return JSONResponse({"session_id": backend.new_session_id(agent_id)})
        except LyzrError as error:
            return _bad_request(state.redact(str(error)))

    async def api_stream(request: Request) -> Response:
        try:
            body = await _json_body(request)
            agent_id = _text_field(body, "agent_id", required=False, limit=200) or config.agent_id
            message = _text_field(body, "message", required=True, limit=_MAX_MESSAGE_CHARS)
            session_id = _text_field(body, "session_id", required=False, limit=500)
            variables = _variables(body)
            session_id = session_id or backend.new_session_id(agent_id)
        except LyzrError as error:
            return _bad_request(state.redact(str(error)))
        if state.shutting_down:
            return _bad_request("the playground server is stopping", 503)
        turn = Turn(agent_id, message, session_id, variables)
        events = turn_events(state, turn, state.new_run(turn))
        return EventStreamResponse(  # type: ignore[return-value]
            events, until=state.closing().wait(), last_words=_SERVER_STOPPED
        )

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/static/{name}", asset),
            Route("/api/config", api_config),
            Route("/api/session", api_session, methods=["POST"]),
            Route("/api/stream", api_stream, methods=["POST"]),
        ]
    )
    app.state.playground = state
    app.add_middleware(_Guard, allow_remote=config.allow_remote)
    return app


ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


class _Guard:
    """Loopback ``Host`` only, JSON-only POSTs without a foreign ``Origin``, and the security
    headers on every response. Plain ASGI (no ``BaseHTTPMiddleware``): streaming and
    disconnect messages pass through untouched."""

    def __init__(self, app: ASGIApp, allow_remote: bool = False) -> None:
        self.app = app
        self.allow_remote = allow_remote

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {bytes(k).lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in _HEADERS if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Mapping[str, Any], headers: Mapping[str, str]) -> Response | None:
        host = headers.get("host", "")
        if not self.allow_remote and _hostname(host) not in _LOOPBACK_HOSTS:
            return _bad_request("this playground answers on loopback addresses only", 403)
        if scope["method"] == "POST":
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return _bad_request("POST bodies must be application/json", 415)
            origin = headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != host:
                return _bad_request("cross-origin requests are refused", 403)
        return None


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
