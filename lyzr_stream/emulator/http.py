"""Pieces every route family shares: recording, auth, JSON bodies, faults, SSE writing."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from .faults import FAULT_HEADER, Fault, FaultSpecError, parse_fault
from .state import EmulatorState, RecordedRequest

if TYPE_CHECKING:
    from .agents import Answer

__all__ = [
    "STORE_ATTRIBUTES",
    "AppStore",
    "InjectedDisconnect",
    "RouteError",
    "check_api_key",
    "early_fault_response",
    "fault_of",
    "injected_fault",
    "keyed",
    "planned_fault",
    "quiet_injected_disconnects",
    "read_json",
    "record",
    "remember_when_written",
    "require_strings",
    "sse_event",
    "sse_response",
    "state_of",
]

SSE_MEDIA_TYPE = "text/event-stream; charset=utf-8"


class InjectedDisconnect(Exception):
    """Raised inside a response body to cut the connection on purpose (``drop-after``)."""


class _QuietInjected(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, InjectedDisconnect)


def quiet_injected_disconnects() -> None:
    """Keep uvicorn from logging the disconnects the emulator injects on purpose.

    Installed when an emulator starts (idempotent), not when this module is imported: importing
    the package changes no logging configuration.
    """
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietInjected) for f in logger.filters):
        logger.addFilter(_QuietInjected())


class RouteError(Exception):
    """Stops a route with an error response."""

    def __init__(self, response: Response) -> None:
        self.response = response


#: The app-state attributes of every :class:`AppStore` (what ``Emulator.reset`` forgets).
STORE_ATTRIBUTES: list[str] = []
_STORES_LOCK = threading.Lock()


class AppStore:
    """What one emulated service keeps per app (uploads, created sessions, tasks, added
    knowledge bases): made on first use as ``app.state.<attribute>``, forgotten by
    ``Emulator.reset``. A subclass names its attribute: ``class Tasks(AppStore,
    attribute="lyzr_tasks")``; its ``__init__`` takes no argument."""

    attribute: ClassVar[str]

    def __init_subclass__(cls, *, attribute: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.attribute = attribute
        STORE_ATTRIBUTES.append(attribute)

    @classmethod
    def of(cls, app: Any) -> Self:
        """The store of a Starlette app (created on first use)."""
        with _STORES_LOCK:
            store = getattr(app.state, cls.attribute, None)
            if store is None:
                store = cls()
                setattr(app.state, cls.attribute, store)
            return store


def state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


async def record(request: Request, *, read_body: bool = True) -> Any:
    """Record the request and return its JSON body (or None when it is not JSON; with
    ``read_body=False`` the body is left unread, for a route that streams it)."""
    raw = await request.body() if read_body else b""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    headers = {k.lower(): v for k, v in request.headers.items()}
    state_of(request).record(
        RecordedRequest(
            request.method, request.url.path, headers, body, query=request.url.query
        )
    )
    return body


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:
        raise RouteError(JSONResponse({"detail": "Invalid JSON body"}, status_code=400)) from None
    if not isinstance(body, dict):
        raise RouteError(JSONResponse({"detail": "Body must be a JSON object"}, status_code=400))
    return body


def require_strings(body: dict[str, Any], names: Sequence[str]) -> None:
    """FastAPI-style 422 for missing or non-string fields."""
    problems = []
    for name in names:
        if name not in body:
            problems.append({"loc": ["body", name], "msg": "Field required", "type": "missing"})
        elif not isinstance(body[name], str):
            problems.append(
                {
                    "loc": ["body", name],
                    "msg": "Input should be a valid string",
                    "type": "string_type",
                }
            )
    if problems:
        raise RouteError(JSONResponse({"detail": problems}, status_code=422))


def sse_event(payload: Any) -> bytes:
    """One SSE event whose data is ``payload`` as compact JSON."""
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def fault_of(request: Request) -> Fault | None:
    try:
        return parse_fault(request.headers.get(FAULT_HEADER))
    except FaultSpecError as exc:
        raise RouteError(JSONResponse({"detail": str(exc)}, status_code=400)) from None


async def early_fault_response(
    request: Request, fault: Fault | None, session_id: str
) -> Response | None:
    """Faults decided before any body is produced. ``delay-headers`` only waits."""
    if fault is None:
        return None
    if fault.kind == "delay-headers":
        await asyncio.sleep(fault.seconds)
        return None
    if fault.kind == "status":
        headers = {"retry-after": fault.retry_after} if fault.retry_after else None
        return JSONResponse(
            {"detail": f"Injected {fault.status}"}, status_code=fault.status, headers=headers
        )
    if fault.kind == "html":
        page = (
            f"<!DOCTYPE html><html><head><title>{fault.status}</title></head><body>"
            f"<h1>{fault.status} Bad Gateway</h1><p>nginx</p></body></html>"
        )
        return HTMLResponse(page, status_code=fault.status)
    if fault.kind == "fail-first":
        attempt = state_of(request).count_attempt(fault.spec, session_id)
        if attempt <= fault.count:
            return JSONResponse(
                {"detail": f"Injected {fault.status} (attempt {attempt})"},
                status_code=fault.status,
                headers={"retry-after": fault.retry_after} if fault.retry_after else None,
            )
        return None
    if fault.kind == "redirect":
        # Points back at the same route: a client that followed it would be recorded twice.
        return Response(status_code=fault.status, headers={"location": str(request.url)})
    if fault.kind == "empty-200":
        return Response(b"", media_type=SSE_MEDIA_TYPE)
    if fault.kind == "wrong-content-type":
        return HTMLResponse("<html><body><h1>Welcome to nginx!</h1></body></html>")
    return None


def check_api_key(request: Request) -> Response | None:
    """The 401 answer for a missing or wrong ``x-api-key``, else None."""
    if request.headers.get("x-api-key") != state_of(request).api_key:
        return JSONResponse({"detail": "Invalid API key"}, status_code=401)
    return None


async def injected_fault(request: Request, key: str) -> Response | None:
    """The answer an ``x-emulator-fault`` header asks for (status, html, fail-first, ...)."""
    try:
        return await early_fault_response(request, fault_of(request), key)
    except RouteError as exc:
        return exc.response


def keyed(
    handle: Callable[[Request, Any], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """The route for ``handle(request, body)``: every request recorded, then refused (a wrong
    key's 401, or the answer an ``x-emulator-fault`` header asks for) or handled."""

    @functools.wraps(handle)
    async def route(request: Request) -> Response:
        body = await record(request)
        refused = check_api_key(request) or await injected_fault(request, request.url.path)
        return refused or await handle(request, body)

    return route


async def planned_fault(request: Request, session_id: str) -> Fault | None:
    """The request's fault for its answer's body; one decided before any body (a status, an
    HTML page, ...) stops the route with its response (``RouteError``)."""
    fault = fault_of(request)
    early = await early_fault_response(request, fault, session_id)
    if early is not None:
        raise RouteError(early)
    return fault


def remember_when_written(
    state: EmulatorState, session_id: str, answer: Answer
) -> Callable[[], None]:
    """An ``on_complete`` for ``sse_response``: the assistant's turn goes into the session's
    memory once the whole answer was written (not a failed answer, nor a request to run a tool
    on the caller's side)."""

    def remember() -> None:
        if answer.error is None and answer.tool_call is None:
            state.remember(session_id, "assistant", answer.text)

    return remember


def _per_write(request: Request) -> int:
    value = request.headers.get("x-emulator-events-per-write", "")
    return max(1, int(value)) if value.isdigit() else state_of(request).events_per_write


def _rechunk(request: Request, chunks: list[bytes]) -> list[bytes] | None:
    """``x-emulator-chunk-bytes: N``: cut the body into N-byte writes (splits characters)."""
    value = request.headers.get("x-emulator-chunk-bytes", "")
    if not value.isdigit() or int(value) < 1:
        return None
    size = int(value)
    body = b"".join(chunks)
    return [body[i : i + size] for i in range(0, len(body), size)]


def _token_delay(request: Request) -> float:
    try:
        return max(0.0, float(request.headers.get("x-emulator-token-delay", "0")))
    except ValueError:
        return 0.0


#: How often a paced one-shot answer looks for a stop of its session.
_STOP_POLL = 0.02


async def one_shot_time(
    request: Request, fragments: int, delay: float, fault: Fault | None, session_id: str
) -> None:
    """A one-shot answer takes the time its stream would: ``delay`` (else the request's
    ``x-emulator-token-delay``) per fragment, plus a ``stall-after`` fault's pause. A stop
    request for the session ends the wait (the agent stopped: the answer so far is given)."""
    seconds = fragments * (delay or _token_delay(request))
    if fault is not None and fault.kind == "stall-after":
        seconds += fault.seconds
    if seconds <= 0:
        return
    state = state_of(request)
    stops_at_start = state.stops_of(session_id)
    until = time.monotonic() + seconds
    while (left := until - time.monotonic()) > 0 and state.stops_of(session_id) == stops_at_start:
        await asyncio.sleep(min(left, _STOP_POLL))


def sse_response(
    request: Request,
    events: Sequence[bytes],
    terminal: Sequence[bytes],
    fault: Fault | None,
    *,
    delay: float = 0.0,
    on_complete: Any = None,
    malformed: bytes = b'data: {"content": "x\n\n',
    media_type: str = SSE_MEDIA_TYPE,
    session_id: str | None = None,
) -> Response:
    """Stream pre-encoded SSE ``events`` then ``terminal``, applying write batching and faults.

    ``on_complete`` runs when the whole body was sent (to update session memory). With a
    ``session_id``, a stop request for that session ends the answer where it is (no end marker,
    no memory update), as the service stops a running agent.
    """
    state = state_of(request)
    stops_at_start = state.stops_of(session_id) if session_id is not None else 0

    def stopped() -> bool:
        return session_id is not None and state.stops_of(session_id) != stops_at_start

    per_write = _per_write(request)
    delay = delay or _token_delay(request)
    kind = fault.kind if fault else ""
    body = list(events)
    if kind == "malformed-json":
        body.insert(min(1, len(body)), malformed)
    elif kind == "oversize" and fault:
        body.insert(min(1, len(body)), b"data: " + b"x" * fault.count + b"\n\n")
    elif kind == "deep-json":  # JSON over the limits (issue 25, item 4)
        body.insert(min(1, len(body)), b"data: " + b'{"a":' * 200_000 + b"\n\n")
    tail = [] if kind == "no-done" else list(terminal)
    rechunked = _rechunk(request, body + tail)
    if rechunked is not None:
        body, tail, per_write = rechunked, [], 1

    async def generate() -> AsyncIterator[bytes]:
        sent = 0
        stalled = False
        for start in range(0, len(body), per_write):
            if stopped():
                return
            batch = body[start : start + per_write]
            if fault and kind == "drop-after" and sent + len(batch) > fault.count:
                keep = fault.count - sent
                if keep > 0:
                    yield b"".join(batch[:keep])
                raise InjectedDisconnect("drop-after")
            if delay:
                await asyncio.sleep(delay)
            elif start and start % (16 * per_write) == 0:
                # Unpaced, every write may be buffered without ever waiting: let the loop run
                # now and then, so that a client's disconnect (and its stop request) is seen.
                await asyncio.sleep(0)
            yield b"".join(batch)
            sent += len(batch)
            if fault and kind == "stall-after" and sent >= fault.count and not stalled:
                stalled = True
                await asyncio.sleep(fault.seconds)
        if fault and kind == "drop-after" and sent >= fault.count and sent == len(body):
            raise InjectedDisconnect("drop-after")
        if stopped():
            return
        if tail:
            yield b"".join(tail)
        if on_complete is not None:
            on_complete()
        if fault and kind == "done-then-hold":
            await asyncio.sleep(fault.seconds)  # the answer is complete; the body is not
        elif fault and kind == "done-then-keepalive":
            for _ in range(int(fault.seconds / 0.05)):
                await asyncio.sleep(0.05)
                yield b": keepalive\n\n"

    return StreamingResponse(
        generate(), media_type=media_type, headers={"cache-control": "no-cache"}
    )
