"""A Starlette server that relays an agent's stream to the browser as Server-Sent Events.

    python examples/sse_relay_server.py [--port 8000]

then open http://127.0.0.1:8000/ : type a question, watch the answer arrive token by token.
``GET /ask?q=...&session=...`` is the SSE endpoint (``data:`` lines of JSON: ``{"text": ...}``
per delta, then ``{"done": true, "session_id": ...}``, or ``{"error": ...}``). When the browser
goes away, the agent's stream is closed at once (the generator is closed by Starlette).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.routing import Route

from langchain_lyzr_stream import ChatLyzr
from lyzr_stream import LyzrError

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
    const data = JSON.parse(m.data);
    if (data.text) out.textContent += data.text;
    if (data.error) out.textContent += "\\n[" + data.error + "]";
    if (data.done || data.error) source.close();
  };
};
</script></body></html>
"""


def create_app() -> Starlette:
    target = connect("demo")
    model = ChatLyzr(agent_id=target.agent_id, api_key=target.api_key, base_url=target.base_url)

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def ask(request: Request) -> StreamingResponse:
        question = request.query_params.get("q", "")
        session = request.query_params.get("session") or None

        async def events() -> AsyncIterator[str]:
            try:
                async for chunk in model.astream(question, session_id=session):
                    if chunk.text:
                        yield f"data: {json.dumps({'text': chunk.text})}\n\n"
                yield f"data: {json.dumps({'done': True, 'session_id': session})}\n\n"
            except LyzrError as error:
                yield f"data: {json.dumps({'error': str(error)})}\n\n"

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )

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
