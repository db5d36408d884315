"""A browser playground for an agent: ``lyzr-stream playground`` (see docs/cli.md).

A local web page (loopback only by default) that streams answers through ``ChatLyzr`` or
``LyzrLLM`` and shows the answer as it arrives, reasoning folded away, tool calls and results on
a timeline, time to first token, total time and chunks, the session (new or continued), system
prompt variables, errors with the text already received, and a stop button that closes the
agent's stream. The key stays in the server process; the page renders agent text as text only.

    from lyzr_stream.playground import PlaygroundConfig, PlaygroundServer, create_app

    app = create_app(PlaygroundConfig(agent_id="YOUR_AGENT_ID"))  # key from LYZR_API_KEY
    with PlaygroundServer(app) as server:
        print(server.url)

Needs the ``playground`` extra (starlette, uvicorn, langchain-core; ``llamaindex`` for LyzrLLM).
"""

from ._apps.playground.app import PlaygroundConfig, RunRecord, create_app
from ._apps.playground.backends import FRAMEWORKS, ModelSettings
from ._apps.playground.server import LOOPBACK, PlaygroundServer, serve
from ._apps.playground.sse import EventStreamResponse, encode_event

__all__ = [
    "FRAMEWORKS",
    "LOOPBACK",
    "EventStreamResponse",
    "ModelSettings",
    "PlaygroundConfig",
    "PlaygroundServer",
    "RunRecord",
    "create_app",
    "encode_event",
    "serve",
]
