"""A call's answer over sockets: stream, astream, chat, achat, the body sent, text kept whole."""

from __future__ import annotations

import asyncio

import pytest

from lyzr_stream import LyzrClient, ReasoningDelta, StreamEnd
from lyzr_stream.emulator import Emulator
from tests.helpers.clients import make_client, req, text_of


def test_stream_echo(client: LyzrClient) -> None:
    with client.stream(req()) as stream:
        events = list(stream)
    assert text_of(events) == "You said: hello world"
    assert isinstance(events[-1], StreamEnd)
    assert stream.finished
    assert stream.stats.time_to_first_token is not None
    response = stream.response()
    assert response.text == "You said: hello world"
    assert response.session_id.startswith("echo-")
    assert response.user_id == "default_user"


async def test_astream_echo(client: LyzrClient) -> None:
    async with client.astream(req()) as stream:
        events = [e async for e in stream]
    assert text_of(events) == "You said: hello world"
    assert isinstance(events[-1], StreamEnd)


def test_chat_and_achat(client: LyzrClient) -> None:
    response = client.chat(req(session_id="s-chat"))
    assert response.text == "You said: hello world"
    assert response.session_id == "s-chat"
    assert response.message_id
    assert response.raw is not None and response.raw["response"] == response.text
    aresponse = asyncio.run(client.achat(req()))
    assert aresponse.text == "You said: hello world"


def test_request_body_on_the_wire(lyzr_emulator: Emulator, client: LyzrClient) -> None:
    lyzr_emulator.reset()
    client.chat(
        req(
            session_id="s1",
            user_id="u1",
            system_prompt_variables={"name": "Ada"},
            filter_variables={"f": 1},
            assets=["a1"],
        )
    )
    [recorded] = lyzr_emulator.requests
    assert recorded.path == "/v3/inference/chat/"
    assert recorded.headers["x-api-key"] == lyzr_emulator.api_key
    assert recorded.json == {
        "user_id": "u1",
        "agent_id": "echo",
        "session_id": "s1",
        "message": "hello world",
        "system_prompt_variables": {"name": "Ada"},
        "filter_variables": {"f": 1},
        "assets": ["a1"],
    }


def test_session_memory_on_the_server(client: LyzrClient) -> None:
    first = client.chat(req("memory", "first question", session_id="mem-1"))
    assert first.text == "This is the start of our conversation."
    with client.stream(req("memory", "second", session_id="mem-1")) as stream:
        assert stream.until_done().text == "Earlier you said: first question"
    other = client.chat(req("memory", "x", session_id="mem-2"))
    assert other.text == "This is the start of our conversation."


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("escape", [None, "html"])
def test_unicode_and_escapes_round_trip(
    lyzr_emulator: Emulator, fmt: str, escape: str | None
) -> None:
    from lyzr_stream.emulator.agents import UNICODE_ANSWER

    headers = {"x-emulator-format": fmt}
    if escape:
        headers["x-emulator-escape"] = escape
    with make_client(lyzr_emulator, default_headers=headers) as client:
        assert client.stream(req("unicode")).until_done().text == UNICODE_ANSWER


def test_echo_of_tricky_text_round_trips(client: LyzrClient) -> None:
    tricky = 'quotes " \\" backslash \\\\n tab\t newline\n &amp; <tag> 🌍 世界'
    with client.stream(req(message=tricky)) as stream:
        assert stream.until_done().text == f"You said: {tricky}"


def test_reasoning_is_separated(client: LyzrClient) -> None:
    events = list(client.stream(req("reasoning")))
    assert text_of(events) == "The answer is 42."
    thought = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert thought == "Let me think about it."
