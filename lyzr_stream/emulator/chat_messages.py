"""Chat messages route: ``POST /api/chats/{chatId}/messages/stream``.

Auth: the session cookie ``session=<key>`` (401 without it). ``chatId`` must be a UUID (404
otherwise); the body needs ``content``, ``modelId``, ``userId`` and may carry ``workflowId`` (a
UUID); ``modelId`` names the scripted agent. Events: ``start``, then the agent's server-side
``tool_call`` / ``tool_result`` activity, ``content`` deltas, and ``end`` (or ``error``).
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import http
from .agents import AgentCall, resolve_agent

__all__ = ["routes"]


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


async def stream(request: Request) -> Response:
    await http.record(request)
    state = http.state_of(request)
    try:
        if request.cookies.get("session") != state.api_key:
            return JSONResponse({"error": "Unauthorized"}, status_code=401)
        chat_id = request.path_params["chat_id"]
        if not _is_uuid(chat_id):
            return JSONResponse({"error": "Chat not found"}, status_code=404)
        body = await http.read_json(request)
        fields = [body.get(name) for name in ("content", "modelId", "userId")]
        workflow = body.get("workflowId")
        if not all(isinstance(f, str) and f for f in fields) or (
            workflow is not None and not _is_uuid(workflow)
        ):
            return JSONResponse({"error": "Invalid request body"}, status_code=400)
        fault = await http.planned_fault(request, chat_id)
    except http.RouteError as exc:
        return exc.response
    content, model_id, user_id = (str(f) for f in fields)
    resolved = resolve_agent(model_id)
    if resolved is None:
        return JSONResponse({"error": f"Model '{model_id}' not found"}, status_code=400)
    fn, param = resolved
    call = AgentCall(model_id, content, chat_id, user_id, state.history(chat_id), param=param)
    state.remember(chat_id, "user", content)
    answer = fn(call)
    message_id = str(uuid.uuid4())
    events = [http.sse_event({"type": "start", "messageId": message_id})]
    for phase, name, data in answer.activity:
        if phase == "call":
            events.append(http.sse_event({"type": "tool_call", "toolName": name, "toolArgs": data}))
        else:
            events.append(http.sse_event({"type": "tool_result", "toolName": name, "result": data}))
    events += [http.sse_event({"type": "content", "delta": f}) for f in answer.fragments]
    if answer.error is not None:
        error = {"type": "error", "error": "AGENT_ERROR", "message": answer.error}
        terminal = [http.sse_event(error)]
    else:
        terminal = [http.sse_event({"type": "end", "messageId": message_id})]
    complete = http.remember_when_written(state, chat_id, answer)
    return http.sse_response(
        request, events, terminal, fault, delay=answer.delay, on_complete=complete
    )


routes = [Route("/api/chats/{chat_id}/messages/stream", stream, methods=["POST"])]
