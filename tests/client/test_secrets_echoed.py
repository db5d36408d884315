"""Secrets never echoed: a service that sends the key (and a default header's value) back in
its error detail, its headers or an agent error; keys inside URLs; user info in a URL."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import (
    AgentError,
    AgentRequest,
    InvalidRequestError,
    LyzrClient,
    LyzrError,
    PermissionDeniedError,
)
from lyzr_stream._errors import redact_url, scrub
from lyzr_stream.emulator import Emulator
from tests.conftest import FAKE_KEY
from tests.helpers.echo_server import EchoServer

#: A default header's value: a secret like the key.
TOKEN = "proxy-token-5a4b3c2d1e"


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def _client(url: str) -> LyzrClient:
    return LyzrClient(
        api_key=FAKE_KEY, base_url=url, default_headers={"x-token": TOKEN}, max_retries=0
    )


def _assert_clean(error: LyzrError) -> None:
    shown = [
        str(error),
        repr(error),
        repr(error.args),
        "".join(traceback.format_exception(error)),
        json.dumps(getattr(error, "body", None), default=str),
        json.dumps(getattr(error, "headers", None), default=str),
        getattr(error, "body_excerpt", ""),
    ]
    for text in shown:
        assert FAKE_KEY not in text and TOKEN not in text, f"a secret leaked: {text[:300]}"
    assert FAKE_KEY.encode() not in pickle.dumps(error)


def _routes(client: LyzrClient) -> dict[str, Callable[[], Any]]:
    request = AgentRequest(agent_id="echo", message="hi", session_id="s-1")

    async def astream() -> Any:
        return await client.astream(request).until_done()

    return {
        "stream": lambda: client.stream(request).until_done(),
        "astream": lambda: asyncio.run(astream()),
        "chat": lambda: client.chat(request),
        "achat": lambda: asyncio.run(client.achat(request)),
        "history": lambda: client.session_history("s-1"),
        "list": lambda: client.list_sessions("echo"),
    }


@pytest.mark.parametrize("route", ["stream", "astream", "chat", "achat", "history", "list"])
def test_a_refusal_that_echoes_the_key_does_not_carry_it(
    echo: EchoServer, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = _client(echo.url("refuse"))
    with pytest.raises(PermissionDeniedError) as info:
        _routes(client)[route]()
    error = info.value
    assert "denied for key [redacted], token [redacted]" in str(error)
    assert error.headers["x-denied-key"] == "[redacted]"
    _assert_clean(error)
    # Our log lines and httpx's (httpcore's own DEBUG trace prints the response headers as the
    # service sent them: a third party's logger, outside this package's reach).
    ours = [
        r.getMessage() for r in caplog.records if r.name.split(".")[0] in ("lyzr_stream", "httpx")
    ]
    assert ours, "nothing was logged"
    for line in ours:
        assert FAKE_KEY not in line and TOKEN not in line, line


@pytest.mark.parametrize("route", ["stream", "astream", "chat", "achat"])
def test_an_agent_error_that_echoes_the_key_does_not_carry_it(echo: EchoServer, route: str) -> None:
    client = _client(echo.url("agent-error"))
    with pytest.raises(AgentError) as info:
        _routes(client)[route]()
    assert "[redacted]" in str(info.value)
    _assert_clean(info.value)


def test_a_key_in_base_url_is_refused_without_printing_it() -> None:
    for url in (
        f"https://agent.example.com/{FAKE_KEY}",
        f"https://u:{FAKE_KEY}@agent.example.com",
        "https://agent.example.com/sk-lyzr-TEST-9f8e7d6c5b4a-DO-NOT-LEAK".replace("-", "%2D"),
    ):
        with pytest.raises(InvalidRequestError, match="base_url contains the API key") as info:
            LyzrClient(api_key=FAKE_KEY, base_url=url)
        assert FAKE_KEY not in str(info.value) + repr(info.value)
    with pytest.raises(InvalidRequestError, match="query") as info:
        LyzrClient(api_key=FAKE_KEY, base_url="https://agent.example.com/?key=other-secret-1")
    assert "other-secret-1" not in str(info.value)


def test_user_info_in_a_url_never_shows(lyzr_emulator: Emulator) -> None:
    password = "gateway-pass-77"
    url = lyzr_emulator.base_url.replace("http://", f"http://gw:{password}@")
    client = LyzrClient(api_key=lyzr_emulator.api_key, base_url=url)
    model = ChatLyzr(agent_id="echo", api_key=lyzr_emulator.api_key, base_url=url)
    llm = LyzrLLM(agent_id="echo", api_key=lyzr_emulator.api_key, base_url=url)
    for shown in (repr(client), repr(client.settings), repr(model), str(model), repr(llm)):
        assert password not in shown
        assert "[redacted]@127.0.0.1" in shown
    assert password in client.settings.secrets
    assert client.chat(AgentRequest(agent_id="echo", message="hi")).text == "You said: hi"
    refusing = LyzrClient(
        api_key="k" * 8, base_url=f"http://gw:{password}@127.0.0.1:9", max_retries=0
    )
    with pytest.raises(LyzrError) as info:
        refusing.chat(AgentRequest(agent_id="echo", message="hi"))
    assert password not in str(info.value)


def test_scrub_finds_every_form_of_a_secret() -> None:
    secret = "a/b+c d=e&f"
    for form in (secret, "a%2Fb%2Bc%20d%3De%26f", "a%2Fb%2Bc+d%3De%26f", repr(secret)[1:-1]):
        assert scrub(f"x {form} y", (secret,)) == "x [redacted] y"
    assert redact_url("https://u:p@h:1/p?q=1#f") == "https://[redacted]@h:1/p?[redacted]#f"
    assert redact_url("https://h/p") == "https://h/p"
