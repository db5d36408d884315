"""The emulator's ASGI app: one route module per wire format, one shared state."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from . import (
    agent_events,
    aisquare,
    assets,
    chat_messages,
    knowledge,
    lyzr_v2,
    lyzr_v3,
    sessions,
    tasks,
)
from .state import EMULATOR_API_KEY, EmulatorState

__all__ = ["create_app"]


def create_app(
    api_key: str = EMULATOR_API_KEY, stream_format: str = "text", events_per_write: int = 1
) -> Starlette:
    """A Starlette app serving every emulated route. ``app.state.emulator`` holds the state."""
    routes: list[BaseRoute] = [
        *lyzr_v3.routes,
        *lyzr_v2.routes,
        *aisquare.routes,
        *chat_messages.routes,
        *agent_events.routes,
        *assets.routes, *sessions.routes,  # files and session memory (issue 17)
        *knowledge.routes,  # knowledge bases (the rag host's routes, same server)
        *tasks.routes,  # background tasks (issue 27)
    ]
    app = Starlette(routes=routes)
    app.router.redirect_slashes = False
    app.state.emulator = EmulatorState(api_key, stream_format, events_per_write)
    return app
