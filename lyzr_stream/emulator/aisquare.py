"""AISquare QLLM route: ``POST /api/v1/qllm/chat-stream/{session_id}/``.

Auth: ``Authorization: Bearer <key>``. The path's session id must be an integer (else 404, as
for an unknown chat session); the body is ``{"prompt": ...}``. The service has no agent id, so
the emulator picks the scripted agent from the ``x-emulator-agent`` header (default ``echo``).
Events: ``start``, ``token`` per fragment, then ``complete``, ``metadata`` and ``end``; or
``error`` when the agent fails.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import http
from .agents import AgentCall, resolve_agent

__all__ = ["routes"]


async def stream(request: Request) -> Response:
    await http.record(request)
    state = http.state_of(request)
    try:
        if request.headers.get("authorization") != f"Bearer {state.api_key}":
            return JSONResponse(
                {"detail": "Authentication credentials were not provided."}, status_code=401
            )
        raw_session = request.path_params["session_id"]
        if not raw_session.isdecimal():
            return JSONResponse({"detail": "Chat session not found."}, status_code=404)
        body = await http.read_json(request)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return JSONResponse({"prompt": ["This field is required."]}, status_code=400)
        fault = await http.planned_fault(request, raw_session)
    except http.RouteError as exc:
        return exc.response
    resolved = resolve_agent(request.headers.get("x-emulator-agent", "echo"))
    if resolved is None:
        return JSONResponse({"detail": "Unknown emulator agent."}, status_code=400)
    fn, param = resolved
    session = str(int(raw_session))
    call = AgentCall(
        "aisquare", prompt, session, "aisquare-user", state.history(session), param=param
    )
    state.remember(session, "user", prompt)
    answer = fn(call)
    events = [http.sse_event({"type": "start", "session_id": int(session)})]
    events += [http.sse_event({"type": "token", "token": f}) for f in answer.fragments]
    if answer.error is not None:
        terminal = [http.sse_event({"type": "error", "error": answer.error})]
    else:
        meta = {
            "message_id": str(uuid.uuid4()),
            "title": prompt[:40],
            "suggestions": ["Tell me more", "Summarise that"],
        }
        terminal = [
            http.sse_event({"type": "complete"}),
            http.sse_event({"type": "metadata", "metadata": meta}),
            http.sse_event({"type": "end"}),
        ]
    complete = http.remember_when_written(state, session, answer)
    return http.sse_response(
        request, events, terminal, fault, delay=answer.delay, on_complete=complete
    )


routes = [Route("/api/v1/qllm/chat-stream/{session_id}/", stream, methods=["POST"])]
