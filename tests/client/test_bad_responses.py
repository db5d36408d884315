"""Failures once the answer started: a typed error saying what went wrong, with the partial text."""

from __future__ import annotations

import pytest

from lyzr_stream import (
    AgentError,
    APIResponseValidationError,
    LyzrClient,
    StreamInterruptedError,
    TextDelta,
)
from lyzr_stream.emulator import Emulator
from tests.helpers.clients import chat_lyzr, lyzr_llm, make_client, req


def test_agent_error_midway_keeps_partial_text(client: LyzrClient) -> None:
    received: list[str] = []
    with pytest.raises(AgentError, match="Agent crashed midway") as info:
        for event in client.stream(req("fail-midway")):
            if isinstance(event, TextDelta):
                received.append(event.text)
    assert info.value.partial_text == "Partial answer" == "".join(received)


async def test_agent_error_midway_async(client: LyzrClient) -> None:
    with pytest.raises(AgentError) as info:
        async for _ in client.astream(req("fail-midway")):
            pass
    assert info.value.partial_text == "Partial answer"


def test_chatlyzr_agent_error_midway_keeps_partial_text(lyzr_emulator: Emulator) -> None:
    received: list[str] = []
    with pytest.raises(AgentError) as info:
        for chunk in chat_lyzr(lyzr_emulator, "fail-midway").stream("x"):
            received.append(chunk.text)
    assert info.value.partial_text == "Partial answer" == "".join(received)
    with pytest.raises(AgentError) as info:
        chat_lyzr(lyzr_emulator, "fail-midway", streaming=True).invoke("x")
    assert info.value.partial_text == "Partial answer"


def test_lyzrllm_agent_error_keeps_partial_text(lyzr_emulator: Emulator) -> None:
    received: list[str] = []
    with pytest.raises(AgentError) as info:
        for response in lyzr_llm(lyzr_emulator, "fail-midway").stream_complete("x"):
            received.append(response.delta or "")
    assert info.value.partial_text == "Partial answer" == "".join(received)


def test_missing_done_is_interrupted(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, default_headers={"x-emulator-fault": "no-done"}) as c:
        with pytest.raises(StreamInterruptedError, match="without \\[DONE\\]") as info:
            list(c.stream(req()))
    assert info.value.partial_text == "You said: hello world"


def test_html_instead_of_stream(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-fault": "wrong-content-type"}
    with make_client(lyzr_emulator, default_headers=headers) as c:
        with pytest.raises(APIResponseValidationError, match="text/html"):
            list(c.stream(req()))
