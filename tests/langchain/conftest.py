"""Fixtures: ChatLyzr models pointed at the session's emulator; recorders, a tool, a schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from langchain_lyzr_stream import ChatLyzr
from lyzr_stream.emulator import Emulator

ModelFactory = Callable[..., ChatLyzr]


@pytest.fixture
def make_model(lyzr_emulator: Emulator) -> ModelFactory:
    lyzr_emulator.reset()

    def factory(agent_id: str = "echo", **kwargs: Any) -> ChatLyzr:
        kwargs.setdefault("api_key", lyzr_emulator.api_key)
        return ChatLyzr(agent_id=agent_id, base_url=lyzr_emulator.base_url, **kwargs)

    return factory


def answer_requests(em: Emulator) -> list[Any]:
    """The recorded answer requests (chat and stream routes): a stop request that an earlier
    test's early exit sent in the background may land in the recorder after its reset."""
    return [r for r in em.requests if r.path.endswith(("/chat/", "/stream/"))]


class RunRecorder(BaseCallbackHandler):
    """Run ids as LangChain reports them, token callbacks, and custom events with their run."""

    def __init__(self) -> None:
        self.started: list[UUID] = []
        self.tokens: list[tuple[str, Any]] = []
        self.custom: list[tuple[str, UUID]] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **_: Any
    ) -> None:
        self.started.append(run_id)

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **_: Any) -> None:
        self.tokens.append((token, chunk))

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **_: Any) -> None:
        self.custom.append((name, run_id))


class TokenRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.chunks: list[Any] = []
        self.custom: list[tuple[str, Any]] = []

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        self.tokens.append(token)
        self.chunks.append(chunk)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.custom.append((name, data))


class Person(BaseModel):
    """A person."""

    name: str = Field(description="the person's name")
    age: int = Field(description="the person's age in years")


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b
