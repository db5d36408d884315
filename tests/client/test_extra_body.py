"""Extra body fields: ``extra_body`` on AgentRequest, ChatLyzr and LyzrLLM (constructor and per
call, merged key by key, per call wins); a key the package sets itself is refused, named."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import AgentRequest, InvalidRequestError, LyzrClient
from lyzr_stream.emulator import Emulator

OVERRIDES = {"provider_overrides": {"model": "gpt-4o-mini"}, "trace": "t-1"}


def _last_body(em: Emulator) -> dict[str, Any]:
    body = em.requests[-1].json
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize("mode", ["stream", "chat", "achat"])
def test_the_core_sends_extra_body_fields(lyzr_emulator: Emulator, mode: str) -> None:
    request = AgentRequest(agent_id="echo", message="hi", extra_body=OVERRIDES)
    with LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url) as client:
        if mode == "stream":
            assert client.stream(request).until_done().text == "You said: hi"
        elif mode == "chat":
            assert client.chat(request).text == "You said: hi"
        else:
            assert asyncio.run(client.achat(request)).text == "You said: hi"
    body = _last_body(lyzr_emulator)
    assert body["provider_overrides"] == {"model": "gpt-4o-mini"} and body["trace"] == "t-1"
    assert body["message"] == "hi" and body["agent_id"] == "echo"


@pytest.mark.parametrize("key", ["agent_id", "message", "messages", "session_id", "features"])
def test_a_key_the_package_sets_is_refused_by_name(key: str) -> None:
    with pytest.raises(InvalidRequestError, match=f"'{key}' is set by lyzr-stream"):
        AgentRequest(agent_id="echo", message="hi", extra_body={key: "x"})
    with pytest.raises(InvalidRequestError, match=f"'{key}' is set by lyzr-stream"):
        ChatLyzr(agent_id="echo", api_key="k" * 8, extra_body={key: "x"})
    with pytest.raises(InvalidRequestError, match=f"'{key}' is set by lyzr-stream"):
        LyzrLLM(agent_id="echo", api_key="k" * 8, extra_body={key: "x"})


def test_a_key_the_dialects_body_holds_is_refused_before_sending(lyzr_emulator: Emulator) -> None:
    # chat-messages' body holds "content": extra_body may not overwrite it.
    before = len(lyzr_emulator.requests)
    request = AgentRequest(agent_id="echo", message="hi", extra_body={"content": "x"})
    with LyzrClient(api_key="k" * 8, base_url=lyzr_emulator.base_url, dialect="chat-messages") as c:
        with pytest.raises(InvalidRequestError, match="would overwrite"):
            c.chat(request)
    assert len(lyzr_emulator.requests) == before


def test_chatlyzr_merges_constructor_config_and_call_key_by_key(lyzr_emulator: Emulator) -> None:
    model = ChatLyzr(
        agent_id="echo",
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
        extra_body={"a": 1, "b": 1, "c": 1},
    )
    config: Any = {"configurable": {"extra_body": {"b": 2, "c": 2}}}
    assert model.invoke("hi", config=config, extra_body={"c": 3}).text == "You said: hi"
    body = _last_body(lyzr_emulator)
    assert (body["a"], body["b"], body["c"]) == (1, 2, 3)
    with pytest.raises(InvalidRequestError, match="'session_id' is set by lyzr-stream"):
        model.invoke("hi", extra_body={"session_id": "s"})


def test_lyzrllm_merges_constructor_and_call(lyzr_emulator: Emulator) -> None:
    llm = LyzrLLM(
        agent_id="echo",
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
        extra_body={"a": 1, "b": 1},
    )
    assert llm.complete("hi", extra_body={"b": 2}).text == "You said: hi"
    body = _last_body(lyzr_emulator)
    assert (body["a"], body["b"]) == (1, 2)
