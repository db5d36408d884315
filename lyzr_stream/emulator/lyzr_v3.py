"""Lyzr Agent API v3 routes: ``/v3/inference/stream/`` and ``/v3/inference/chat/``.

Stream payloads are escaped plain text by default (the app's ``stream_format``), or JSON
``{"content": ...}`` objects; per request, ``x-emulator-format: text|json`` picks one and
``x-emulator-escape: html`` escapes with HTML entities instead of backslashes.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .agents import AgentCall, Answer, resolve_agent, words
from .http import (
    RouteError,
    early_fault_response,
    fault_of,
    read_json,
    record,
    require_strings,
    sse_response,
    state_of,
)
from .tool_agents import json_object_example, schema_example

__all__ = ["escape_fragment", "payload", "prepare", "routes"]

# "&" is escaped in both modes: clients decode HTML entities too, so a literal "&amp;" in an
# answer survives only if the server escapes the ampersand.
_BACKSLASH = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "&": "&amp;"}
_HTML = {
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "'": "&apos;",
    '"': "&quot;",
}


def escape_fragment(fragment: str, html: bool = False) -> str:
    """Escape a fragment so it stays on one ``data:`` line, in one pass."""
    table = _HTML if html else _BACKSLASH
    if not any(ch in table for ch in fragment):
        return fragment
    return "".join(table.get(ch, ch) for ch in fragment)


def _auth(request: Request) -> None:
    if request.headers.get("x-api-key") != state_of(request).api_key:
        raise RouteError(JSONResponse({"detail": "Invalid API key"}, status_code=401))


def _call(request: Request, body: dict[str, Any]) -> tuple[AgentCall, Any]:
    require_strings(body, ("user_id", "agent_id", "session_id", "message"))
    messages = body.get("messages")
    if not body["message"] and not isinstance(messages, list):
        raise RouteError(
            JSONResponse(
                {
                    "detail": [
                        {
                            "loc": ["body", "message"],
                            "msg": "Message must not be empty",
                            "type": "value_error",
                        }
                    ]
                },
                status_code=422,
            )
        )
    resolved = resolve_agent(body["agent_id"])
    if resolved is None:
        raise RouteError(
            JSONResponse({"detail": f"Agent '{body['agent_id']}' not found"}, status_code=404)
        )
    fn, param = resolved
    state = state_of(request)
    call = AgentCall(
        agent_id=body["agent_id"],
        message=body["message"],
        session_id=body["session_id"],
        user_id=body["user_id"],
        history=state.history(body["session_id"]),
        system_prompt_variables=body.get("system_prompt_variables") or {},
        filter_variables=body.get("filter_variables") or {},
        features=tuple(body.get("features") or ()),
        messages=tuple(messages) if isinstance(messages, list) else None,
        param=param,
    )
    return call, fn


async def prepare(request: Request) -> tuple[AgentCall, Answer] | Response:
    await record(request)
    try:
        _auth(request)
        body = await read_json(request)
        call, fn = _call(request, body)
        fault = fault_of(request)
        early = await early_fault_response(request, fault, call.session_id)
        if early is not None:
            return early
    except RouteError as exc:
        return exc.response
    state_of(request).remember(call.session_id, "user", call.message)
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        # Structured output: a JSON document that fits the requested schema (json_object: any).
        if response_format.get("type") == "json_object":
            return call, Answer(words(json.dumps(json_object_example(call.message))))
        schema = (response_format.get("json_schema") or {}).get("schema", response_format)
        return call, Answer(words(json.dumps(schema_example(schema))))
    return call, fn(call)


def payload(fragment: str, fmt: str, html: bool) -> bytes:
    if fmt == "json":
        text = json.dumps({"content": fragment}, ensure_ascii=False)
    else:
        text = escape_fragment(fragment, html)
    return f"data: {text}\n\n".encode()


@functools.lru_cache(maxsize=32)
def _rendered(fragments: tuple[str, ...], fmt: str, html: bool) -> tuple[bytes, ...]:
    """Encoded events, cached: long benchmark answers must not make the emulator the bottleneck."""
    return tuple(payload(f, fmt, html) for f in fragments)


async def stream(request: Request) -> Response:
    prepared = await prepare(request)
    if isinstance(prepared, Response):
        return prepared
    call, answer = prepared
    if answer.prelude is not None:
        await answer.prelude(request)
    state = state_of(request)
    fmt = request.headers.get("x-emulator-format", state.stream_format)
    html = request.headers.get("x-emulator-escape") == "html"
    if answer.tool_call is not None:
        events = [f"data: {json.dumps(dict(answer.tool_call))}\n\n".encode()]
    else:
        events = list(_rendered(answer.fragments, fmt, html))
    if answer.error is not None:
        terminal = [f"data: [ERROR] {answer.error}\n\n".encode()]
    else:
        terminal = []
        if fmt == "json":
            meta: dict[str, Any] = {
                "message_id": str(uuid.uuid4()),
                "session_id": call.session_id,
                "agent_id": call.agent_id,
            }
            if answer.artifacts:
                meta["artifact_files"] = [dict(a) for a in answer.artifacts]
            final = json.dumps({"content": "", "metadata": meta})
            terminal.append(f"data: {final}\n\n".encode())
        terminal.append(b"data: [DONE]\n\n")

    def complete() -> None:
        if answer.error is None and answer.tool_call is None:
            state.remember(call.session_id, "assistant", answer.text)

    fault = fault_of(request)
    return sse_response(
        request,
        events,
        terminal,
        fault,
        delay=answer.delay,
        on_complete=complete,
        session_id=call.session_id,
    )


async def stop(request: Request) -> Response:
    """``POST /v3/inference/session/{session_id}/stop``: stop the session's running answer."""
    await record(request)
    try:
        _auth(request)
    except RouteError as exc:
        return exc.response
    session_id = request.path_params["session_id"]
    state_of(request).record_stop(session_id)
    return JSONResponse({"status": "stopped", "session_id": session_id})


async def chat(request: Request) -> Response:
    prepared = await prepare(request)
    if isinstance(prepared, Response):
        return prepared
    call, answer = prepared
    if answer.error is not None:
        return JSONResponse({"detail": answer.error}, status_code=500)
    message_id = str(uuid.uuid4())
    document: dict[str, Any] = {
        "response": "" if answer.tool_call else answer.text,
        "message_id": message_id,
        "session_id": call.session_id,
        "agent_id": call.agent_id,
        "metadata": {"agent_id": call.agent_id},
        "tool_calls": [],
        "module_outputs": {"artifact_files": [dict(a) for a in answer.artifacts]},
    }
    if answer.tool_call is not None:
        document["requires_local_execution"] = True
        document["messages"] = answer.tool_call.get("messages", [])
    else:
        state_of(request).remember(call.session_id, "assistant", answer.text)
    return JSONResponse(document)


routes = [
    Route("/v3/inference/stream/", stream, methods=["POST"]),
    Route("/v3/inference/chat/", chat, methods=["POST"]),
    Route("/v3/inference/session/{session_id}/stop", stop, methods=["POST"]),
]
