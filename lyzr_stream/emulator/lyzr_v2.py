"""Lyzr v2 route: ``POST /v2/stream/``, same auth and body as v3.

The answer is raw UTF-8 text written fragment by fragment (``text/plain``) unless the request
says ``x-emulator-v2-format: sse``, which streams it in the v3 SSE format. A failing agent cuts
the raw body short (raw text has no way to say "error").
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .agents import AgentCall, Answer
from .faults import Fault
from .http import fault_of, remember_when_written, sse_response, state_of
from .lyzr_v3 import answering, payload

__all__ = ["routes"]


@answering
async def stream(request: Request, call: AgentCall, answer: Answer) -> Response:
    fault = fault_of(request)
    complete = remember_when_written(state_of(request), call.session_id, answer)

    if request.headers.get("x-emulator-v2-format") == "sse":
        events = [payload(f, "text", False) for f in answer.fragments]
        terminal = [
            f"data: [ERROR] {answer.error}\n\n".encode() if answer.error else b"data: [DONE]\n\n"
        ]
        return sse_response(request, events, terminal, fault, on_complete=complete)
    events = [f.encode() for f in answer.fragments]
    if answer.error is not None and fault is None:
        fault = Fault("drop-after", count=len(events), spec="agent-error")
    return sse_response(
        request,
        events,
        [],
        fault,
        delay=answer.delay,
        on_complete=complete,
        media_type="text/plain; charset=utf-8",
    )


routes = [Route("/v2/stream/", stream, methods=["POST"])]
