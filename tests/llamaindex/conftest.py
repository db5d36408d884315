"""Fixtures: LyzrLLM instances pointed at the session's emulator; an event recorder; a user turn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent

from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream.emulator import Emulator

LLMFactory = Callable[..., LyzrLLM]


@pytest.fixture
def make_llm(lyzr_emulator: Emulator) -> LLMFactory:
    lyzr_emulator.reset()

    def factory(agent_id: str = "echo", **kwargs: Any) -> LyzrLLM:
        kwargs.setdefault("api_key", lyzr_emulator.api_key)
        return LyzrLLM(agent_id=agent_id, base_url=lyzr_emulator.base_url, **kwargs)

    return factory


class EventRecorder(BaseEventHandler):
    events: list[BaseEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "EventRecorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


@pytest.fixture
def recorder() -> Iterator[EventRecorder]:
    root = get_dispatcher()
    handler = EventRecorder(events=[])
    root.add_event_handler(handler)
    try:
        yield handler
    finally:
        root.event_handlers.remove(handler)


def user(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)
