"""The playground's web app: one page, its script and style, and a small JSON + SSE API.

Routes: ``GET /`` (the page), ``GET /static/playground.js`` and ``.css``, ``GET /api/config``,
``POST /api/session`` (a new session id, or a typed one checked), ``POST /api/stream`` (one
answer as Server-Sent Events, see :func:`turn_events` for the event types).

The API key stays in this process: it is in the models, never in a response (error messages
are scrubbed of the client's secrets by the one scrubber). Agent text is untrusted: the page
only ever sets it as text, and every response carries a Content Security Policy that allows no
inline script. A page on another site cannot drive the agent through a visitor's browser:
requests must name a loopback ``Host`` or one of the configured ``allowed_hosts`` (no DNS
rebinding: the check is never off), POSTs must be ``application/json`` (no simple cross-site
form posts) and carry no foreign ``Origin``. Request bodies are capped (:data:`MAX_BODY_BYTES`)
and decoded by the core's one JSON step, with its depth limit: too large is a 413, too deep or
not JSON a 400.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..._errors import APIResponseValidationError, InvalidRequestError, LyzrError, scrub
from ..._json import decode
from ..._version import __version__
from .backends import Activity, Backend, Delta, Final, ModelSettings, Turn, backend_for
from .sse import EventStreamResponse

__all__ = [
    "MAX_BODY_BYTES",
    "PlaygroundConfig",
    "RunRecord",
    "allowed_host_names",
    "create_app",
    "turn_events",
]

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
#: The largest request body the API reads (a question is at most 100,000 characters).
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class PlaygroundConfig:
    """What the playground serves. ``models`` says how to reach the agent (key included)."""

    agent_id: str
    models: ModelSettings = field(default_factory=ModelSettings)
    #: Agent ids offered in the page's agent field (the emulator's, with ``--emulator``).
    agent_suggestions: tuple[str, ...] = ()
    emulator: bool = False
    #: Host names (or IP addresses) requests may name besides the loopback ones: the names the
    #: page is reached by when served on a non-loopback address (``--allow-remote``). The
    #: ``Host`` check is never off; see :func:`allowed_host_names`.
    allowed_hosts: tuple[str, ...] = ()


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
    #: The models' secrets (``ClientSettings.secrets``: the key, every header value).
    secrets: tuple[str, ...] = ()
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
        """Belt and braces: the package never puts a secret in a message; this makes sure."""
        return scrub(text, self.secrets)


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


class _BodyTooLarge(InvalidRequestError):
    """A request body over :data:`MAX_BODY_BYTES` (answered 413)."""


def _refused(state: PlaygroundState, error: LyzrError) -> JSONResponse:
    status = 413 if isinstance(error, _BodyTooLarge) else 400
    return _bad_request(state.redact(str(error)), status)


async def _json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object: read up to :data:`MAX_BODY_BYTES`, decoded by the core's one
    JSON step (its depth limit turns deep nesting into a typed error, not a RecursionError)."""
    too_large = f"the request body is larger than {MAX_BODY_BYTES} bytes"
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _BodyTooLarge(too_large)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BodyTooLarge(too_large)
        chunks.append(chunk)
    try:
        body = decode(b"".join(chunks), what="the request body")
    except APIResponseValidationError as error:
        raise InvalidRequestError(error.message) from None
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
    hosts = allowed_host_names(config.allowed_hosts)
    backend = backend if backend is not None else backend_for(config.models)
    backend.new_session_id(config.agent_id)
    state = PlaygroundState(config, backend, backend.secrets(config.agent_id))

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
            return _refused(state, error)

    async def api_stream(request: Request) -> Response:
        try:
            body = await _json_body(request)
            agent_id = _text_field(body, "agent_id", required=False, limit=200) or config.agent_id
            message = _text_field(body, "message", required=True, limit=_MAX_MESSAGE_CHARS)
            session_id = _text_field(body, "session_id", required=False, limit=500)
            variables = _variables(body)
            session_id = session_id or backend.new_session_id(agent_id)
        except LyzrError as error:
            return _refused(state, error)
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
    app.add_middleware(_Guard, allowed_hosts=hosts)
    return app


def allowed_host_names(values: Iterable[str]) -> tuple[str, ...]:
    """Host names from ``values`` (each may list several, comma-separated), checked and
    normalised (lower case, IPv6 in brackets): what a request's ``Host`` may name besides
    loopback. A wildcard, a port, a scheme or a path is refused (``InvalidRequestError``): the
    list names hosts, it never turns the check off."""
    if isinstance(values, str):
        values = (values,)
    names: list[str] = []
    for value in values:
        for item in value.split(","):
            name = item.strip().lower().rstrip(".")
            if not name:
                raise InvalidRequestError(f"an allowed host is empty in {value!r}")
            if name.startswith("[") and name.endswith("]"):
                name = name[1:-1]
            try:
                address = ipaddress.ip_address(name)
            except ValueError:
                if not all(part and _HOST_CHARS.issuperset(part) for part in name.split(".")):
                    raise InvalidRequestError(
                        f"allowed hosts are host names or IP addresses without a port or a "
                        f"wildcard, not {item.strip()!r}"
                    ) from None
            else:
                name = f"[{address}]" if address.version == 6 else str(address)
            if name not in names:
                names.append(name)
    return tuple(names)


_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


class _Guard:
    """A loopback ``Host`` or an allowed one only, JSON-only POSTs without a foreign
    ``Origin``, and the security headers on every response. Plain ASGI (no
    ``BaseHTTPMiddleware``): streaming and disconnect messages pass through untouched."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.hosts = _LOOPBACK_HOSTS | frozenset(allowed_hosts)

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
        if _hostname(host).lower().rstrip(".") not in self.hosts:
            return _bad_request(
                "this playground answers only requests naming a loopback host or one of the "
                "hosts it was started with (--allow-remote)",
                403,
            )
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
