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


def answer_requests(em: Emulator) -> list[Any]:
    """The recorded answer requests (chat and stream routes): a stop request that an earlier
    test's early exit sent in the background may land in the recorder after its reset."""
    return [r for r in em.requests if r.path.endswith(("/chat/", "/stream/"))]
