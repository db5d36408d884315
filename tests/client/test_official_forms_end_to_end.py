"""The forms the official Lyzr clients accept, over real sockets (issue 13's wire-protocol items,
issue 14 item 4, issue 19 item 9): the core client sync and async, and what a ChatLyzr or LyzrLLM
user sees in the final result."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessageChunk
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import (
    AgentError,
    AgentRequest,
    AgentResponse,
    LyzrClient,
    Metadata,
    ReasoningDelta,
    StreamEnd,
)
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.agents import ARTIFACT_FILE
from tests.helpers.clients import text_of

JSON_FORM = {"x-emulator-format": "json"}


def with_headers(client: LyzrClient, headers: dict[str, str] | None) -> LyzrClient:
    """A client for the same emulator that sends ``headers`` (emulator switches) too."""
    settings = client.settings
    return LyzrClient(
        api_key=settings.api_key, base_url=settings.base_url, default_headers=headers or {}
    )


def stream_sync(
    client: LyzrClient, agent: str, headers: dict[str, str] | None = None
) -> tuple[list[Any], AgentResponse]:
    request = AgentRequest(agent_id=agent, message="go")
    with with_headers(client, headers) as c, c.stream(request) as stream:
        events = list(stream)
    return events, stream.response()


def stream_async(
    client: LyzrClient, agent: str, headers: dict[str, str] | None = None
) -> tuple[list[Any], AgentResponse]:
    async def run() -> tuple[list[Any], AgentResponse]:
        c = with_headers(client, headers)
        try:
            async with c.astream(AgentRequest(agent_id=agent, message="go")) as stream:
                events = [e async for e in stream]
        finally:
            await c.aclose()
        return events, stream.response()

    return asyncio.run(run())


STREAMERS = [stream_sync, stream_async]
FORMS = [{}, JSON_FORM]


# -- core ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("streamer", STREAMERS)
def test_backslash_ampersand(client: LyzrClient, streamer: Any) -> None:
    events, response = streamer(client, "ampersand")
    assert response.text == text_of(events) == "Tom & Jerry & friends"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("streamer", STREAMERS)
def test_think_block_mid_answer(client: LyzrClient, streamer: Any, form: dict[str, str]) -> None:
    events, response = streamer(client, "think-midway", form)
    assert response.text == "First part. Second part."
    assert response.reasoning == "checking the facts"
    assert any(isinstance(e, ReasoningDelta) for e in events)
    one_shot = client.chat(AgentRequest(agent_id="think-midway", message="go"))
    assert (one_shot.text, one_shot.reasoning) == (response.text, response.reasoning)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("streamer", STREAMERS)
def test_artifacts_block_mid_answer(
    client: LyzrClient, streamer: Any, form: dict[str, str]
) -> None:
    events, response = streamer(client, "artifacts-inline", form)
    assert response.text == text_of(events) == "Here is the report:\n\nDone."
    assert response.artifacts == (ARTIFACT_FILE,)
    one_shot = client.chat(AgentRequest(agent_id="artifacts-inline", message="go"))
    assert (one_shot.text, one_shot.artifacts) == (response.text, (ARTIFACT_FILE,))


@pytest.mark.parametrize("streamer", STREAMERS)
def test_json_stream_artifacts_appear_once(client: LyzrClient, streamer: Any) -> None:
    events, response = streamer(client, "artifacts", JSON_FORM)
    assert [a["name"] for a in response.artifacts] == ["report.txt"]
    end = events[-1]
    assert isinstance(end, StreamEnd) and len(end.metadata["artifact_files"]) == 1


def test_accept_application_json_on_both_routes(
    lyzr_emulator: Emulator, client: LyzrClient
) -> None:
    stream_sync(client, "echo")
    client.chat(AgentRequest(agent_id="echo", message="go"))
    last = {r.path: r for r in lyzr_emulator.requests}
    stream_request, chat_request = last["/v3/inference/stream/"], last["/v3/inference/chat/"]
    assert stream_request.headers["accept"] == chat_request.headers["accept"] == "application/json"


@pytest.mark.parametrize("media_type", ["text/plain; charset=utf-8", "application/octet-stream"])
@pytest.mark.parametrize("streamer", STREAMERS)
def test_stream_served_with_another_content_type_is_read_as_sse(
    client: LyzrClient, streamer: Any, media_type: str
) -> None:
    events, response = streamer(client, "reasoning", {"x-emulator-media-type": media_type})
    assert (response.text, response.reasoning) == ("The answer is 42.", "Let me think about it.")
    assert isinstance(events[-1], StreamEnd)


@pytest.mark.parametrize("quirks", ["", "error-event"])
@pytest.mark.parametrize("streamer", STREAMERS)
def test_agent_error_message_without_leading_space(
    client: LyzrClient, streamer: Any, quirks: str
) -> None:
    with pytest.raises(AgentError) as caught:
        streamer(client, "fail-midway", {"x-emulator-quirks": quirks})
    assert caught.value.message == "agent error: Agent crashed midway"
    assert caught.value.partial_text == "Partial answer"


@pytest.mark.parametrize("streamer", STREAMERS)
def test_unknown_json_events_are_metadata(client: LyzrClient, streamer: Any) -> None:
    for form in FORMS:
        events, response = streamer(client, "unknown-events", form)
        assert response.text == "Hello world"
        kinds = [e.kind for e in events if isinstance(e, Metadata)]
        assert kinds[:2] == ["progress", "unknown"]
        assert [e["kind"] for e in response.metadata["stream_events"]] == ["progress", "unknown"]


def test_one_shot_server_tool_calls_are_tool_activity(client: LyzrClient) -> None:
    response = client.chat(AgentRequest(agent_id="tools", message="lyzr"))
    assert [(a.phase, a.name) for a in response.tool_activity] == [
        ("call", "search"),
        ("result", "search"),
    ]
    assert response.tool_activity[0].arguments == {"query": "lyzr"}
    assert response.tool_activity[1].result == {"hits": 2, "top": "lyzr-stream docs"}
    assert response.tool_calls == ()
    aresponse = asyncio.run(client.achat(AgentRequest(agent_id="tools", message="lyzr")))
    assert aresponse.tool_activity == response.tool_activity


@pytest.mark.parametrize("chunk_bytes", ["", "1", "5"])
@pytest.mark.parametrize("streamer", STREAMERS)
def test_escapes_cut_between_events(client: LyzrClient, streamer: Any, chunk_bytes: str) -> None:
    headers = {"x-emulator-chunk-bytes": chunk_bytes} if chunk_bytes else {}
    _, response = streamer(client, "split-escapes", headers)
    assert response.text == "café smile 😀 Tom & Jerry"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("streamer", STREAMERS)
def test_lone_surrogate_becomes_a_replacement_character(
    client: LyzrClient, streamer: Any, form: dict[str, str]
) -> None:
    events, response = streamer(client, "lone-surrogate", form)
    assert response.text == text_of(events) == "before \ufffd after"
    response.text.encode("utf-8")
    one_shot = client.chat(AgentRequest(agent_id="lone-surrogate", message="go"))
    assert one_shot.text == "before \ufffd after"


@pytest.mark.parametrize("quirks", ["bom", "done-space", "bom,done-space"])
@pytest.mark.parametrize("streamer", STREAMERS)
def test_bom_and_done_with_a_trailing_space(
    client: LyzrClient, streamer: Any, quirks: str
) -> None:
    events, response = streamer(client, "echo", {"x-emulator-quirks": quirks})
    assert response.text == "You said: go"
    assert isinstance(events[-1], StreamEnd)


def test_emulator_accepts_messages_without_message(lyzr_emulator: Emulator) -> None:
    body: dict[str, Any] = {
        "user_id": "u",
        "agent_id": "echo",
        "session_id": "adk-1",
        "messages": [
            {"role": "user", "content": "earlier"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "hi there"},
        ],
    }
    headers = {"x-api-key": lyzr_emulator.api_key}
    url = f"{lyzr_emulator.base_url}/v3/inference/chat/"
    answer = httpx.post(url, json=body, headers=headers).json()
    assert answer["response"] == "You said: hi there"
    del body["messages"]
    refused = httpx.post(url, json=body, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "message"]


# -- what a ChatLyzr or LyzrLLM user sees -------------------------------------------------------
def chat_model(em: Emulator, agent: str, **kw: Any) -> ChatLyzr:
    return ChatLyzr(agent_id=agent, api_key=em.api_key, base_url=em.base_url, **kw)


def llm(em: Emulator, agent: str, **kw: Any) -> LyzrLLM:
    return LyzrLLM(agent_id=agent, api_key=em.api_key, base_url=em.base_url, **kw)


USER = [ChatMessage(role=MessageRole.USER, content="go")]


@pytest.mark.parametrize("form", FORMS)
def test_chatlyzr_tags_mid_answer(lyzr_emulator: Emulator, form: dict[str, str]) -> None:
    for streaming in (False, True):
        model = chat_model(lyzr_emulator, "think-midway", streaming=streaming, default_headers=form)
        message = model.invoke("go")
        assert message.text == "First part. Second part."
        assert message.additional_kwargs["reasoning_content"] == "checking the facts"
        model = chat_model(
            lyzr_emulator, "artifacts-inline", streaming=streaming, default_headers=form
        )
        message = model.invoke("go")
        assert message.text == "Here is the report:\n\nDone."
        assert message.response_metadata["artifacts"] == [ARTIFACT_FILE]
    chunks = list(chat_model(lyzr_emulator, "artifacts-inline", default_headers=form).stream("go"))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert isinstance(merged, AIMessageChunk)
    assert merged.text == "Here is the report:\n\nDone."
    assert "<artifacts" not in "".join(c.text for c in chunks)
    assert merged.response_metadata["artifacts"] == [ARTIFACT_FILE]


def test_chatlyzr_artifacts_once_on_json_streams(lyzr_emulator: Emulator) -> None:
    model = chat_model(lyzr_emulator, "artifacts", default_headers=JSON_FORM)
    chunks = list(model.stream("go"))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert [a["name"] for a in merged.response_metadata["artifacts"]] == ["report.txt"]
    streamed = chat_model(lyzr_emulator, "artifacts", default_headers=JSON_FORM, streaming=True)
    message = streamed.invoke("go")
    assert [a["name"] for a in message.response_metadata["artifacts"]] == ["report.txt"]
    amessage = asyncio.run(streamed.ainvoke("go"))
    assert [a["name"] for a in amessage.response_metadata["artifacts"]] == ["report.txt"]


def test_chatlyzr_unknown_events_and_escapes(lyzr_emulator: Emulator) -> None:
    streamed = chat_model(lyzr_emulator, "unknown-events", streaming=True)
    assert streamed.invoke("go").text == "Hello world"
    assert chat_model(lyzr_emulator, "split-escapes", streaming=True).invoke("go").text == (
        "café smile 😀 Tom & Jerry"
    )


@pytest.mark.parametrize("form", FORMS)
def test_lyzrllm_tags_mid_answer_and_artifacts_once(
    lyzr_emulator: Emulator, form: dict[str, str]
) -> None:
    model = llm(lyzr_emulator, "artifacts-inline", default_headers=form)
    for response in (model.chat(USER), list(model.stream_chat(USER))[-1]):
        assert response.message.content == "Here is the report:\n\nDone."
        assert response.message.additional_kwargs["artifacts"] == [ARTIFACT_FILE]
    thinking = llm(lyzr_emulator, "think-midway", default_headers=form)
    assert thinking.complete("go").text == "First part. Second part."
    last = list(llm(lyzr_emulator, "artifacts", default_headers=JSON_FORM).stream_chat(USER))[-1]
    assert [a["name"] for a in last.message.additional_kwargs["artifacts"]] == ["report.txt"]


def test_lyzrllm_one_shot_tool_activity(lyzr_emulator: Emulator) -> None:
    response = llm(lyzr_emulator, "tools").chat(USER)
    activity = response.message.additional_kwargs["tool_activity"]
    assert [(a["phase"], a["name"]) for a in activity] == [("call", "search"), ("result", "search")]
    assert json.dumps(activity)  # plain data


# -- the odd texts on every framework surface, sync and async -------------------------------------
def _chatlyzr_stream(em: Emulator, agent: str, headers: dict[str, str]) -> str:
    return "".join(c.text for c in chat_model(em, agent, default_headers=headers).stream("go"))


def _chatlyzr_astream(em: Emulator, agent: str, headers: dict[str, str]) -> str:
    async def run() -> str:
        model = chat_model(em, agent, default_headers=headers)
        return "".join([c.text async for c in model.astream("go")])

    return asyncio.run(run())


def _lyzrllm_stream(em: Emulator, agent: str, headers: dict[str, str]) -> str:
    responses = list(llm(em, agent, default_headers=headers).stream_chat(USER))
    assert responses[-1].message.content == "".join(r.delta or "" for r in responses)
    return str(responses[-1].message.content)


def _lyzrllm_astream(em: Emulator, agent: str, headers: dict[str, str]) -> str:
    async def run() -> str:
        model = llm(em, agent, default_headers=headers)
        responses = [r async for r in await model.astream_chat(USER)]
        return str(responses[-1].message.content)

    return asyncio.run(run())


SURFACES = [_chatlyzr_stream, _chatlyzr_astream, _lyzrllm_stream, _lyzrllm_astream]


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize(
    ("agent", "headers", "expected"),
    [
        ("lone-surrogate", {}, "before \ufffd after"),
        ("lone-surrogate", JSON_FORM, "before \ufffd after"),
        ("split-escapes", {"x-emulator-chunk-bytes": "3"}, "café smile 😀 Tom & Jerry"),
        ("echo", {"x-emulator-quirks": "bom,done-space"}, "You said: go"),
        ("ampersand", {}, "Tom & Jerry & friends"),
        ("think-midway", JSON_FORM, "First part. Second part."),
        ("artifacts-inline", {}, "Here is the report:\n\nDone."),
        ("unknown-events", JSON_FORM, "Hello world"),
        ("reasoning", {"x-emulator-media-type": "text/plain"}, "The answer is 42."),
    ],
)
def test_what_framework_users_see(
    lyzr_emulator: Emulator, surface: Any, agent: str, headers: dict[str, str], expected: str
) -> None:
    text = surface(lyzr_emulator, agent, headers)
    assert text == expected
    text.encode("utf-8")


@pytest.mark.parametrize("surface", SURFACES)
def test_sse_error_event_on_every_surface(lyzr_emulator: Emulator, surface: Any) -> None:
    with pytest.raises(AgentError) as caught:
        surface(lyzr_emulator, "fail-midway", {"x-emulator-quirks": "error-event"})
    assert caught.value.message == "agent error: Agent crashed midway"
    assert caught.value.partial_text == "Partial answer"
