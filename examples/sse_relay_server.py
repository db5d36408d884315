"""The smallest version of ``lyzr-stream playground``: a Starlette server relaying an agent's
answer to the browser as Server-Sent Events, with a page.

    python examples/sse_relay_server.py [--port 8000]

then open http://127.0.0.1:8000/ : type a question, watch the answer arrive token by token.
``GET /ask?q=...&session=...`` is the SSE endpoint, in the playground's event format: ``data:``
lines of JSON, ``{"type": "text", "text": ...}`` per delta, then ``{"type": "done",
"session_id": ...}`` or ``{"type": "error", "error": ..., "message": ..., "partial_text": ...}``.
``EventStreamResponse`` closes the agent's stream the moment the browser goes away. The page
sets agent text with ``textContent`` only: agent text is untrusted and never parsed as HTML.
For reasoning, tool calls, timing, sessions and variables, run ``lyzr-stream playground``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from langchain_lyzr_stream import ChatLyzr
from lyzr_stream import LyzrError
from lyzr_stream.playground import EventStreamResponse

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>lyzr-stream relay</title>
<style>body{font:16px system-ui;max-width:40em;margin:2em auto}#out{white-space:pre-wrap}</style>
</head><body>
<h1>Ask the agent</h1>
<form id="f"><input id="q" size="50" value="What is lyzr-stream?"> <button>Ask</button></form>
<p id="out"></p>
<script>
const session = crypto.randomUUID();
document.getElementById("f").onsubmit = (e) => {
  e.preventDefault();
  const out = document.getElementById("out");
  out.textContent = "";
  const q = encodeURIComponent(document.getElementById("q").value);
  const source = new EventSource(`/ask?q=${q}&session=${session}`);
  source.onmessage = (m) => {
    const event = JSON.parse(m.data);
    if (event.type === "text") out.textContent += event.text;
    if (event.type === "error") out.textContent += `\\n[${event.error}: ${event.message}]`;
    if (event.type === "done" || event.type === "error") source.close();
  };
};
</script></body></html>
"""


def create_app() -> Starlette:
    target = connect("demo")
    model = ChatLyzr(agent_id=target.agent_id, api_key=target.api_key, base_url=target.base_url)

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def ask(request: Request) -> EventStreamResponse:
        question = request.query_params.get("q", "")
        session = request.query_params.get("session") or None

        async def events() -> AsyncIterator[dict[str, Any]]:
            try:
                async for chunk in model.astream(question, session_id=session):
                    if chunk.text:
                        yield {"type": "text", "text": chunk.text}
                yield {"type": "done", "session_id": session}
            except LyzrError as error:
                yield {
                    "type": "error",
                    "error": type(error).__name__,
                    "message": str(error),
                    "partial_text": error.partial_text,
                }

        return EventStreamResponse(events())

    return Starlette(routes=[Route("/", page), Route("/ask", ask)])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    app = create_app()
    print(f"open http://127.0.0.1:{args.port}/", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
