"""Lyzr Agent API v3 routes: ``/v3/inference/stream/`` and ``/v3/inference/chat/``.

Stream payloads are escaped plain text by default (the app's ``stream_format``), or JSON
``{"content": ...}`` objects; per request, ``x-emulator-format: text|json`` picks one and
``x-emulator-escape: html`` escapes with HTML entities instead of backslashes
(``backslash-amp`` writes ``&`` as ``\\&``, as the real service may). A body may carry
``message``, or, as lyzr-adk's tool loop sends it, only ``messages``: the user message is then
the last user entry.

Other per-request headers of these routes:

- ``x-emulator-media-type: <type>``: serve the stream with that content type (``text/plain``:
  the official clients read it as SSE all the same).
- ``x-emulator-quirks: <names>`` (comma separated): ``bom`` starts the body with a UTF-8 byte
  order mark; ``done-space`` ends with ``[DONE] `` (trailing space); ``error-event`` reports an
  agent error as an SSE ``event: error`` instead of ``[ERROR] ...``.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .agents import AgentCall, Answer, resolve_agent, words
from .assets import describe_assets
from .http import (
    SSE_MEDIA_TYPE,
    RouteError,
    check_api_key,
    fault_of,
    one_shot_time,
    planned_fault,
    read_json,
    record,
    remember_when_written,
    require_strings,
    sse_response,
    state_of,
)
from .tool_agents import json_object_example, schema_example

__all__ = ["answering", "chat_document", "escape_fragment", "payload", "prepare", "routes"]

# "&" is escaped in both modes: clients decode HTML entities too, so a literal "&amp;" in an
# answer survives only if the server escapes the ampersand.
_BACKSLASH = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "&": "&amp;"}
_BACKSLASH_AMP = {**_BACKSLASH, "&": "\\&"}
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


_TABLES = {"backslash": _BACKSLASH, "html": _HTML, "backslash-amp": _BACKSLASH_AMP}


def _escape_char(ch: str, table: dict[str, str]) -> str:
    if "\ud800" <= ch <= "\udfff":
        return f"\\u{ord(ch):04x}"  # a lone surrogate cannot be sent as UTF-8: escape it
    return table.get(ch, ch)


def escape_fragment(fragment: str, html: bool | str = False) -> str:
    """Escape a fragment so it stays on one ``data:`` line, in one pass. ``html`` is True for
    HTML entities, or an escape mode name (``backslash``, ``html``, ``backslash-amp``)."""
    mode = html if isinstance(html, str) else ("html" if html else "backslash")
    table = _TABLES.get(mode, _BACKSLASH)
    if fragment.isascii() and not any(ch in table for ch in fragment):
        return fragment
    return "".join(_escape_char(ch, table) for ch in fragment)


def _auth(request: Request) -> None:
    refused = check_api_key(request)
    if refused is not None:
        raise RouteError(refused)


def _last_user_text(messages: list[Any]) -> str | None:
    """The text of the last user entry of ``messages`` (a string, or text parts)."""
    for entry in reversed(messages):
        if isinstance(entry, dict) and entry.get("role") == "user":
            content = entry.get("content")
            if isinstance(content, list):
                parts = [p.get("text") for p in content if isinstance(p, dict)]
                return "".join(p for p in parts if isinstance(p, str))
            return content if isinstance(content, str) else ""
    return None


def _call(request: Request, body: dict[str, Any]) -> tuple[AgentCall, Any]:
    messages = body.get("messages")
    if "message" not in body and isinstance(messages, list):
        # lyzr-adk's form: `messages` instead of `message` (never both).
        require_strings(body, ("user_id", "agent_id", "session_id"))
        message = _last_user_text(messages) or ""
    else:
        require_strings(body, ("user_id", "agent_id", "session_id", "message"))
        message = body["message"]
    if not message and not isinstance(messages, list):
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
        message=message,
        session_id=body["session_id"],
        user_id=body["user_id"],
        history=state.history(body["session_id"]),
        system_prompt_variables=body.get("system_prompt_variables") or {},
        filter_variables=body.get("filter_variables") or {},
        features=tuple(body.get("features") or ()),
        messages=tuple(messages) if isinstance(messages, list) else None,
        param=param,
        assets=describe_assets(request, body.get("assets")),
    )
    return call, fn


def _new_user_turn(body: dict[str, Any]) -> bool:
    """A body with ``message`` is a user turn; a ``messages``-only body is one when it ends
    with a user entry (a tool-result round of the same turn is not)."""
    messages = body.get("messages")
    if "message" in body or not isinstance(messages, list):
        return True
    last = messages[-1] if messages else None
    return isinstance(last, dict) and last.get("role") == "user"


async def prepare(request: Request) -> tuple[AgentCall, Answer] | Response:
    await record(request)
    try:
        _auth(request)
        body = await read_json(request)
        call, fn = _call(request, body)
        await planned_fault(request, call.session_id)
    except RouteError as exc:
        return exc.response
    if _new_user_turn(body):
        state_of(request).remember(call.session_id, "user", call.message)
    answer = fn(call)
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and answer.tool_call is None:
        # Structured output: the answer is a JSON document that fits the requested schema
        # (json_object: any), unless the agent calls a tool first (create_agent's provider
        # strategy binds tools and response_format together; the JSON ends the tool loop).
        if response_format.get("type") == "json_object":
            return call, Answer(words(json.dumps(json_object_example(call.message))))
        schema = (response_format.get("json_schema") or {}).get("schema", response_format)
        return call, Answer(words(json.dumps(schema_example(schema))))
    return call, answer


def answering(
    handle: Callable[[Request, AgentCall, Answer], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """The route for ``handle(request, call, answer)``: the request recorded, checked and
    answered by its agent (:func:`prepare`), or refused with ``prepare``'s response."""

    @functools.wraps(handle)
    async def route(request: Request) -> Response:
        prepared = await prepare(request)
        if isinstance(prepared, Response):
            return prepared
        return await handle(request, *prepared)

    return route


def payload(fragment: str, fmt: str, html: bool | str) -> bytes:
    if fmt == "json":
        # ensure_ascii only when needed: a lone surrogate cannot be written as UTF-8.
        ascii_only = any("\ud800" <= ch <= "\udfff" for ch in fragment)
        text = json.dumps({"content": fragment}, ensure_ascii=ascii_only)
    else:
        text = escape_fragment(fragment, html)
    return f"data: {text}\n\n".encode()


@functools.lru_cache(maxsize=32)
def _rendered(fragments: tuple[str, ...], fmt: str, html: bool | str) -> tuple[bytes, ...]:
    """Encoded events, cached: long benchmark answers must not make the emulator the bottleneck."""
    return tuple(payload(f, fmt, html) for f in fragments)


def _answer_events(answer: Answer, fmt: str, escape: str) -> list[bytes]:
    if answer.tool_call is not None:
        return [f"data: {json.dumps(dict(answer.tool_call))}\n\n".encode()]
    if fmt != "json" and answer.wire_fragments is not None:
        events = [f"data: {w}\n\n".encode() for w in answer.wire_fragments]
    else:
        events = list(_rendered(answer.fragments, fmt, escape))
    for index, extra in sorted(answer.json_events, key=lambda e: e[0], reverse=True):
        events.insert(min(index, len(events)), f"data: {json.dumps(dict(extra))}\n\n".encode())
    return events


def _quirks(request: Request) -> set[str]:
    value = request.headers.get("x-emulator-quirks", "")
    return {q.strip() for q in value.split(",") if q.strip()}


@answering
async def stream(request: Request, call: AgentCall, answer: Answer) -> Response:
    if answer.prelude is not None:
        await answer.prelude(request)
    state = state_of(request)
    fmt = request.headers.get("x-emulator-format", state.stream_format)
    escape = request.headers.get("x-emulator-escape", answer.escape)
    quirks = _quirks(request)
    events = _answer_events(answer, fmt, escape)
    if answer.artifacts and fmt != "json" and answer.tool_call is None:
        # The text form has no metadata event: the files arrive as an <artifacts> block at the
        # end of the answer, as the service writes them (docs/wire.md).
        block = f"<artifacts>{json.dumps([dict(a) for a in answer.artifacts])}</artifacts>"
        events.append(payload(block, fmt, escape))
    if "bom" in quirks:
        events = [b"\xef\xbb\xbf" + (events[0] if events else b""), *events[1:]]
    if answer.error is not None:
        if "error-event" in quirks:
            terminal = [f"event: error\ndata: {answer.error}\n\n".encode()]
        else:
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
        terminal.append(b"data: [DONE] \n\n" if "done-space" in quirks else b"data: [DONE]\n\n")
    complete = remember_when_written(state, call.session_id, answer)
    fault = fault_of(request)
    media_type = request.headers.get("x-emulator-media-type", SSE_MEDIA_TYPE)
    return sse_response(
        request,
        events,
        terminal,
        fault,
        delay=answer.delay,
        on_complete=complete,
        session_id=call.session_id,
        media_type=media_type,
    )


async def stop(request: Request) -> Response:
    """``POST /v3/inference/session/{session_id}/stop``: stop the session's running answer.

    Recorded apart from the agent calls (``Emulator.stop_requests``, ``stop_headers``), so that
    counting ``Emulator.requests`` still counts answers.
    """
    try:
        _auth(request)
    except RouteError as exc:
        return exc.response
    session_id = request.path_params["session_id"]
    headers = {k.lower(): v for k, v in request.headers.items()}
    state_of(request).record_stop(session_id, headers)
    return JSONResponse({"status": "stopped", "session_id": session_id})


def _server_tool_calls(answer: Answer) -> list[dict[str, Any]]:
    """The one-shot ``tool_calls``: the tools the agent ran on the server, with their results."""
    calls: list[dict[str, Any]] = []
    for phase, name, data in answer.activity:
        if phase == "call":
            calls.append(
                {
                    "id": f"call_{len(calls)}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(data)},
                }
            )
        elif calls and calls[-1]["function"]["name"] == name:
            calls[-1]["result"] = data
    return calls


@answering
async def chat(request: Request, call: AgentCall, answer: Answer) -> Response:
    # As slow as the stream: a paced agent (``slow``) or a ``stall-after`` fault delays it too.
    await one_shot_time(
        request, len(answer.fragments), answer.delay, fault_of(request), call.session_id
    )
    if answer.error is not None:
        return JSONResponse({"detail": answer.error}, status_code=500)
    document = chat_document(call, answer)
    if answer.tool_call is None:
        state_of(request).remember(call.session_id, "assistant", answer.text)
    # ASCII JSON: a lone surrogate in an answer cannot be written as UTF-8.
    return Response(json.dumps(document), media_type="application/json")


def chat_document(call: AgentCall, answer: Answer) -> dict[str, Any]:
    """The one-shot answer's JSON document (also a completed background task's ``result``)."""
    message_id = str(uuid.uuid4())
    document: dict[str, Any] = {
        "response": "" if answer.tool_call else answer.text,
        "message_id": message_id,
        "session_id": call.session_id,
        "agent_id": call.agent_id,
        "metadata": {"agent_id": call.agent_id},
        "tool_calls": _server_tool_calls(answer),
        "module_outputs": {"artifact_files": [dict(a) for a in answer.artifacts]},
    }
    if answer.tool_call is not None:
        document["requires_local_execution"] = True
        document["messages"] = answer.tool_call.get("messages", [])
    return document


routes = [
    Route("/v3/inference/stream/", stream, methods=["POST"]),
    Route("/v3/inference/chat/", chat, methods=["POST"]),
    Route("/v3/inference/session/{session_id}/stop", stop, methods=["POST"]),
]
