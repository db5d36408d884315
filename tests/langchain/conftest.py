"""Fixtures: ChatLyzr models pointed at the session's emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

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
