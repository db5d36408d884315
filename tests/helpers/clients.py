"""Clients and models pointed at an emulator, and the request the client tests send most."""

from __future__ import annotations

from typing import Any

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import AgentRequest, LyzrClient, TextDelta
from lyzr_stream.emulator import Emulator


def make_client(em: Emulator, **kw: Any) -> LyzrClient:
    return LyzrClient(api_key=em.api_key, base_url=em.base_url, **kw)


def chat_lyzr(em: Emulator, agent: str = "echo", **kw: Any) -> ChatLyzr:
    return ChatLyzr(agent_id=agent, api_key=em.api_key, base_url=em.base_url, **kw)


def lyzr_llm(em: Emulator, agent: str = "echo", **kw: Any) -> LyzrLLM:
    return LyzrLLM(agent_id=agent, api_key=em.api_key, base_url=em.base_url, **kw)


def req(agent: str = "echo", message: str = "hello world", **kw: Any) -> AgentRequest:
    return AgentRequest(agent_id=agent, message=message, **kw)


def text_of(events: list[Any]) -> str:
    """The answer text of a list of stream events."""
    return "".join(e.text for e in events if isinstance(e, TextDelta))
