"""Every non-default dialect over real sockets: core client, ChatLyzr and LyzrLLM, sync and async.

Same behaviour as Lyzr v3: streaming, sessions, typed errors per status, partial text on
failures, server-side tool activity (chat-messages) never turned into client tool calls.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import (
    AgentError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    StreamInterruptedError,
    TextDelta,
    ToolActivity,
)
from lyzr_stream.dialects._chat_messages import SESSION_NAMESPACE
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.agents import UNICODE_ANSWER
from tests.helpers.dialects import CHAT_ID, SETUPS, client_for, request, setup

ALL = list(SETUPS)


@pytest.mark.parametrize("name", ALL)
def test_core_stream_sync_and_async(lyzr_emulator: Emulator, name: str) -> None:
    client, agent_id = client_for(lyzr_emulator, name)
    with client:
        events = list(client.stream(request(agent_id, name)))
        assert (
            "".join(e.text for e in events if isinstance(e, TextDelta)) == "You said: hello there"
        )
        response = asyncio.run(client.achat(request(agent_id, name, "again")))
        assert response.text == "You said: again"


@pytest.mark.parametrize("name", ALL)
def test_unicode_split_into_single_bytes(lyzr_emulator: Emulator, name: str) -> None:
    client, agent_id = client_for(lyzr_emulator, name, "unicode")
    client.settings.default_headers["x-emulator-chunk-bytes"] = "1"  # type: ignore[index]
    with client:
        assert client.chat(request(agent_id, name)).text == UNICODE_ANSWER


@pytest.mark.parametrize("name", ALL)
def test_chat_lyzr_stream_and_invoke(lyzr_emulator: Emulator, name: str) -> None:
    dialect, kwargs = setup(name, "echo")
    model = ChatLyzr(
        dialect=dialect, api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, **kwargs
    )
    chunks = list(model.stream("a b"))
    assert "".join(c.text for c in chunks) == "You said: a b"
    assert model.invoke("c").content == "You said: c"
    assert asyncio.run(model.ainvoke("d")).content == "You said: d"


@pytest.mark.parametrize("name", ALL)
def test_lyzr_llm_stream_and_complete(lyzr_emulator: Emulator, name: str) -> None:
    dialect, kwargs = setup(name, "echo")
    llm = LyzrLLM(
        dialect=dialect, api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, **kwargs
    )
    assert "".join(r.delta or "" for r in llm.stream_complete("a b")) == "You said: a b"
    assert llm.complete("c").text == "You said: c"

    async def go() -> str:
        return "".join([r.delta or "" async for r in await llm.astream_complete("d")])

    assert asyncio.run(go()) == "You said: d"


@pytest.mark.parametrize("name", ["lyzr-v2-sse", "aisquare", "chat-messages"])
def test_agent_error_midway(lyzr_emulator: Emulator, name: str) -> None:
    client, agent_id = client_for(lyzr_emulator, name, "fail-midway")
    with client, pytest.raises(AgentError) as info:
        list(client.stream(request(agent_id, name)))
    assert info.value.partial_text == "Partial answer"


def test_v2_raw_body_cut_short_is_interrupted(lyzr_emulator: Emulator) -> None:
    client, agent_id = client_for(lyzr_emulator, "lyzr-v2", "fail-midway", max_retries=0)
    with client, pytest.raises(StreamInterruptedError) as info:
        list(client.stream(request(agent_id, "lyzr-v2")))
    assert info.value.partial_text == "Partial answer"


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (500, InternalServerError),
    ],
)
def test_documented_statuses(
    lyzr_emulator: Emulator, name: str, status: int, error: type[Exception]
) -> None:
    client, agent_id = client_for(lyzr_emulator, name, max_retries=0)
    client.settings.default_headers["x-emulator-fault"] = f"status:{status}"  # type: ignore[index]
    with client, pytest.raises(error):
        list(client.stream(request(agent_id, name)))


@pytest.mark.parametrize("name", ALL)
def test_wrong_credentials(lyzr_emulator: Emulator, name: str) -> None:
    dialect, kwargs = setup(name, "echo")
    model = ChatLyzr(
        dialect=dialect, api_key="wrong-key", base_url=lyzr_emulator.base_url, **kwargs
    )
    with pytest.raises(AuthenticationError):
        model.invoke("x")


def test_aisquare_metadata_reaches_results(lyzr_emulator: Emulator) -> None:
    dialect, kwargs = setup("aisquare", "echo")
    model = ChatLyzr(
        dialect=dialect, api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, **kwargs
    )
    meta = model.invoke("What is up?").response_metadata
    assert meta["service_metadata"]["suggestions"] == ["Tell me more", "Summarise that"]
    assert meta["service_metadata"]["title"] == "What is up?"
    assert meta["message_id"]
    llm = LyzrLLM(
        dialect=dialect, api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, **kwargs
    )
    extras = list(llm.stream_chat(_user("x")))[-1].additional_kwargs
    assert extras["service_metadata"]["title"] == "x"


def _user(text: str) -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage, MessageRole

    return [ChatMessage(role=MessageRole.USER, content=text)]


def test_aisquare_needs_an_integer_session(lyzr_emulator: Emulator) -> None:
    model = ChatLyzr(
        dialect="aisquare",
        agent_id="q",
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
    )
    lyzr_emulator.reset()
    with pytest.raises(InvalidRequestError, match="needs session_id"):
        model.invoke("x")
    assert lyzr_emulator.requests == []
    # Any other key maps to the same integer every time (#26: a thread id is a session).
    model.invoke("x", session_id="abc")
    model.invoke("y", session_id="abc")
    paths = {r.path for r in lyzr_emulator.requests}
    assert len(paths) == 1 and paths.pop().split("/")[-2].isdecimal()


def test_aisquare_auth_header_is_configurable(lyzr_emulator: Emulator) -> None:
    lyzr_emulator.reset()
    model = ChatLyzr(
        dialect="aisquare",
        agent_id="q",
        session_id="7",
        dialect_options={"auth_header": "X-Token", "auth_scheme": ""},
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
    )
    with pytest.raises(AuthenticationError):
        model.invoke("x")
    assert lyzr_emulator.requests[-1].headers["x-token"] == lyzr_emulator.api_key


def test_fields_a_dialect_cannot_carry_fail_before_sending(lyzr_emulator: Emulator) -> None:
    lyzr_emulator.reset()
    model = ChatLyzr(
        dialect="aisquare",
        agent_id="q",
        session_id="7",
        system_prompt_variables={"tone": "warm"},
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
    )
    with pytest.raises(InvalidRequestError, match="cannot send system_prompt_variables"):
        model.invoke("x")
    assert lyzr_emulator.requests == []


def test_chat_messages_ids_and_generated_uuid(lyzr_emulator: Emulator) -> None:
    lyzr_emulator.reset()
    model = ChatLyzr(
        dialect="chat-messages",
        agent_id="echo",
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
    )
    assert model.invoke("x").content == "You said: x"
    chat_id = lyzr_emulator.requests[-1].path.split("/")[3]
    uuid.UUID(chat_id)
    # A key that is not a UUID maps to one (uuid5): never pasted into the path.
    model.invoke("x", session_id="../../admin")
    recorded = lyzr_emulator.requests[-1]
    assert recorded.path.split("/")[3] == str(uuid.uuid5(SESSION_NAMESPACE, "../../admin"))
    assert recorded.headers["cookie"] == f"session={lyzr_emulator.api_key}"
    assert "x-api-key" not in recorded.headers


def test_chat_messages_workflow_id(lyzr_emulator: Emulator) -> None:
    workflow = str(uuid.uuid4())
    model = ChatLyzr(
        dialect="chat-messages",
        agent_id="echo",
        session_id=CHAT_ID,
        dialect_options={"workflow_id": workflow},
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
    )
    model.invoke("x")
    assert lyzr_emulator.requests[-1].json["workflowId"] == workflow


class _Custom(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.events.append((name, data))


def test_chat_messages_server_tools_are_activity_not_tool_calls(lyzr_emulator: Emulator) -> None:
    client, agent_id = client_for(lyzr_emulator, "chat-messages", "tools")
    with client:
        events = list(client.stream(request(agent_id, "chat-messages", "lyzr")))
    activity = [e for e in events if isinstance(e, ToolActivity)]
    assert [(a.phase, a.name) for a in activity] == [("call", "search"), ("result", "search")]
    assert activity[0].arguments == {"query": "lyzr"}

    dialect, kwargs = setup("chat-messages", "tools")
    model = ChatLyzr(
        dialect=dialect, api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, **kwargs
    )
    handler = _Custom()
    chunks = list(model.stream("lyzr", config={"callbacks": [handler]}))
    assert [n for n, _ in handler.events] == ["lyzr_tool_call", "lyzr_tool_result"]
    assert not any(c.tool_call_chunks for c in chunks)
    assert "".join(c.text for c in chunks) == "Found 2 results for lyzr."

    llm = LyzrLLM(
        dialect=dialect, api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, **kwargs
    )
    final = llm.chat(_user("lyzr"))
    assert [a["phase"] for a in final.additional_kwargs["tool_activity"]] == ["call", "result"]
