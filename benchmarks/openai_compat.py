"""An OpenAI-compatible ``POST /v1/chat/completions`` route, for the peer benchmarks only.

Not part of the shipped emulator: ``benchmarks.emulator_process`` adds it to an emulator app
before serving. The benchmarks stream the same scripted answers to ``langchain-openai``'s
``ChatOpenAI`` as to our clients. ``model`` names the scripted agent (``long-20000``, ``echo``,
...); the last user message is the agent's message. ``stream: true`` answers
``chat.completion.chunk`` events then ``[DONE]``; otherwise one ``chat.completion``. Auth:
``Authorization: Bearer <key>``. The same ``x-emulator-*`` headers apply (write batching, token
delay, faults).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lyzr_stream.emulator.agents import AgentCall, resolve_agent
from lyzr_stream.emulator.http import (
    RouteError,
    early_fault_response,
    fault_of,
    read_json,
    record,
    sse_response,
    state_of,
)

__all__ = ["routes"]


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, status)


def _last_user_text(messages: Any) -> str:
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


async def completions(request: Request) -> Response:
    await record(request)
    state = state_of(request)
    if request.headers.get("authorization") != f"Bearer {state.api_key}":
        return _error("Incorrect API key provided", 401)
    try:
        body = await read_json(request)
        fault = fault_of(request)
        early = await early_fault_response(request, fault, "openai")
        if early is not None:
            return early
    except RouteError as exc:
        return exc.response
    model = str(body.get("model") or "")
    resolved = resolve_agent(model)
    if resolved is None:
        return _error(f"The model `{model}` does not exist", 404)
    fn, param = resolved
    call = AgentCall(
        model, _last_user_text(body.get("messages")), "openai", "openai", (), param=param
    )
    answer = fn(call)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if not body.get("stream"):
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer.text},
                        "finish_reason": "stop",
                    }
                ],
            }
        )
    # Chunks are rendered by string concatenation: the emulator must not be the bottleneck.
    head = (
        f'data: {{"id":"{completion_id}","object":"chat.completion.chunk",'
        f'"created":{created},"model":{json.dumps(model)},'
        '"choices":[{"index":0,"delta":{"content":'
    )
    tail = '},"finish_reason":null}]}\n\n'
    events = [(head + json.dumps(f) + tail).encode() for f in answer.fragments]
    final = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    terminal = [f"data: {json.dumps(final)}\n\n".encode(), b"data: [DONE]\n\n"]
    return sse_response(request, events, terminal, fault, delay=answer.delay)


routes = [Route("/v1/chat/completions", completions, methods=["POST"])]
