"""Stop on demand: ``LyzrClient.stop_session`` / ``astop_session`` over the stop route, with the
call's own limits and typed errors (not the best-effort stop of an early exit)."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from lyzr_stream import (
    AgentRequest,
    AuthenticationError,
    InvalidRequestError,
    LyzrClient,
    StreamInterruptedError,
    TextDelta,
)
from lyzr_stream.emulator import Emulator

SLOW = {"x-emulator-token-delay": "0.05"}


def _session() -> str:
    return f"stop-{uuid.uuid4().hex[:10]}"


def test_stop_session_ends_a_running_answer(lyzr_emulator: Emulator) -> None:
    session = _session()
    kw = {"api_key": lyzr_emulator.api_key, "base_url": lyzr_emulator.base_url}
    with (
        LyzrClient(**kw, default_headers=SLOW, max_retries=0) as streaming,
        LyzrClient(**kw) as controller,
    ):
        request = AgentRequest(agent_id="long-200", message="go", session_id=session)
        received: list[str] = []
        second = threading.Event()
        with pytest.raises(StreamInterruptedError), streaming.stream(request) as stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    received.append(event.text)
                    if len(received) == 2 and not second.is_set():
                        second.set()
                        controller.stop_session(session)
        assert len(received) < 10, "the answer went on after the stop"
    assert lyzr_emulator.stop_requests.count(session) == 1


def test_astop_session_is_recorded(lyzr_emulator: Emulator) -> None:
    session = _session()

    async def go() -> None:
        async with LyzrClient(
            api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url
        ) as client:
            await client.astop_session(session)

    asyncio.run(go())
    assert lyzr_emulator.stop_requests.count(session) == 1


def test_a_refused_stop_is_a_typed_error(lyzr_emulator: Emulator) -> None:
    with LyzrClient(api_key="wrong-key-123", base_url=lyzr_emulator.base_url) as client:
        with pytest.raises(AuthenticationError):
            client.stop_session(_session())


@pytest.mark.parametrize("bad", ["", "   ", None, 7])
def test_a_bad_session_id_is_refused_before_sending(lyzr_emulator: Emulator, bad: object) -> None:
    before = len(lyzr_emulator.stop_requests)
    with LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url) as client:
        with pytest.raises(InvalidRequestError, match="session_id"):
            client.stop_session(bad)  # type: ignore[arg-type]
    assert len(lyzr_emulator.stop_requests) == before


def test_a_dialect_without_a_stop_route_says_so() -> None:
    with LyzrClient(api_key="k" * 8, dialect="lyzr-v2") as client:
        with pytest.raises(InvalidRequestError, match="no stop route"):
            client.stop_session("s-1")
