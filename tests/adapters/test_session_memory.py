"""Both frameworks' session-history readers take the same client arguments and read by the same
rule (``lyzr_stream/_adapters/session_memory.py``): pinned here for the four of them, sync and
async."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from langchain_lyzr_stream import LyzrChatMessageHistory
from llamaindex_lyzr_stream import aread_session_history, read_session_history
from lyzr_stream import LyzrClient
from lyzr_stream._adapters import session_memory
from lyzr_stream.emulator import Emulator


async def _langchain(session_id: str, **options: Any) -> list[Any]:
    return LyzrChatMessageHistory(session_id, **options).messages


async def _alangchain(session_id: str, **options: Any) -> list[Any]:
    return await LyzrChatMessageHistory(session_id, **options).aget_messages()


async def _llamaindex(session_id: str, **options: Any) -> list[Any]:
    return read_session_history(session_id, **options)


async def _allamaindex(session_id: str, **options: Any) -> list[Any]:
    return await aread_session_history(session_id, **options)


READERS: dict[str, Callable[..., Awaitable[list[Any]]]] = {
    "LyzrChatMessageHistory.messages": _langchain,
    "LyzrChatMessageHistory.aget_messages": _alangchain,
    "read_session_history": _llamaindex,
    "aread_session_history": _allamaindex,
}


@pytest.fixture(params=list(READERS))
def read(request: pytest.FixtureRequest) -> Callable[..., Awaitable[list[Any]]]:
    return READERS[request.param]


async def test_every_client_argument_reaches_the_client(
    read: Callable[..., Awaitable[list[Any]]], lyzr_emulator: Emulator
) -> None:
    options = {"api_key": lyzr_emulator.api_key, "base_url": lyzr_emulator.base_url}
    # The emulator answers this header with a 404: the header was sent, and an unknown session
    # reads as no turns.
    faulty = {"x-emulator-fault": "status:404"}
    assert await read("never-used", **options, default_headers=faulty, user_id="u") == []
    with pytest.raises(TypeError, match="api_kye"):
        await read("s", api_kye="typo", base_url=lyzr_emulator.base_url)


async def test_timeout_none_reaches_the_client_and_no_timeout_leaves_the_defaults(
    read: Callable[..., Awaitable[list[Any]]],
    lyzr_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # LyzrClient's own default is the library's timeouts and its timeout=None is no timeout:
    # a reader hands on the user's None and adds no timeout of its own when none is given.
    seen: list[Any] = []

    class RecordingClient(LyzrClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            seen.append(kwargs.get("timeout", "<not given>"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(session_memory, "LyzrClient", RecordingClient)
    options = {"api_key": lyzr_emulator.api_key, "base_url": lyzr_emulator.base_url}
    assert await read("never-used", **options, timeout=None) == []
    assert await read("never-used", **options) == []
    assert seen == [None, "<not given>"]
