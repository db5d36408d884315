"""Every dialect's end event ends the answer: a server that holds the connection open or keeps
sending comments after it costs at most the short drain, never the idle timeout or an error.
(Lyzr v2's raw-text form has no end event: its end is the end of the body.)
"""

from __future__ import annotations

import asyncio

import pytest

from lyzr_stream import LyzrClient, Timeouts
from lyzr_stream.emulator import Emulator
from tests.helpers.dialects import client_for, request

WITH_END_EVENTS = ["lyzr-v2-sse", "aisquare", "chat-messages"]


@pytest.mark.parametrize("fault", ["done-then-hold:30", "done-then-keepalive:30"])
@pytest.mark.parametrize("name", WITH_END_EVENTS)
def test_end_event_ends_the_answer(lyzr_emulator: Emulator, name: str, fault: str) -> None:
    plain, agent_id = client_for(lyzr_emulator, name)
    headers = {**plain.settings.default_headers, "x-emulator-fault": fault}
    client = LyzrClient(
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
        dialect=plain.settings.dialect,
        default_headers=headers,
        timeout=Timeouts(read=5, total=20),
    )
    assert client.stream(request(agent_id, name)).until_done().text == "You said: hello there"

    async def in_async() -> str:
        async with client.astream(request(agent_id, name)) as stream:
            text = (await stream.until_done()).text
        await client.aclose()
        return text

    assert asyncio.run(in_async()) == "You said: hello there"
