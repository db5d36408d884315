"""The emulated non-default dialects: each one's agent id, session id and switch headers."""

from __future__ import annotations

from typing import Any

from lyzr_stream import AgentRequest, LyzrClient
from lyzr_stream.emulator import Emulator

CHAT_ID = "550e8400-e29b-41d4-a716-446655440000"


# dialect -> (agent id as the framework sees it, session id, extra headers selecting the agent)
SETUPS: dict[str, tuple[str, str | None, dict[str, str]]] = {
    "lyzr-v2": ("{agent}", None, {}),
    "lyzr-v2-sse": ("{agent}", None, {"x-emulator-v2-format": "sse"}),
    "aisquare": ("qllm", "42", {"x-emulator-agent": "{agent}"}),
    "chat-messages": ("{agent}", CHAT_ID, {}),
}


def setup(name: str, agent: str) -> tuple[str, dict[str, Any]]:
    """(dialect, constructor kwargs) for one emulated dialect and scripted agent."""
    agent_id, session_id, headers = SETUPS[name]
    kwargs: dict[str, Any] = {
        "agent_id": agent_id.format(agent=agent),
        "default_headers": {k: v.format(agent=agent) for k, v in headers.items()},
    }
    if session_id:
        kwargs["session_id"] = session_id
    return name.removesuffix("-sse"), kwargs


def client_for(em: Emulator, name: str, agent: str = "echo", **kw: Any) -> tuple[LyzrClient, str]:
    dialect, kwargs = setup(name, agent)
    client = LyzrClient(
        api_key=em.api_key,
        base_url=em.base_url,
        dialect=dialect,
        default_headers=kwargs["default_headers"],
        **kw,
    )
    return client, kwargs["agent_id"]


def request(agent_id: str, name: str, message: str = "hello there") -> AgentRequest:
    session_id = SETUPS[name][1]
    return AgentRequest(agent_id=agent_id, message=message, session_id=session_id)
