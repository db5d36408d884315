"""The emulator shows what #26 is about, over real sockets, in user code.

- Its ``memory`` agent answers from the transcript a stateless call carries (``messages``, or
  the transcript written into ``message``), as from memory: the prompt wins.
- ``slow`` and ``stall-after`` make the one-shot route as slow as the stream (a client timeout
  then fires there too, and sends its stop).
- Artifacts arrive on streams in the default text form too (an ``<artifacts>`` block).
"""

from __future__ import annotations

import time
import uuid

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from llama_index.core.llms import ChatMessage

from lyzr_stream import APITimeoutError, Timeouts
from lyzr_stream import ChatMessage as CoreMessage
from lyzr_stream._adapters.conversation import transcript_text
from lyzr_stream.emulator import Emulator
from tests.helpers.clients import chat_lyzr, lyzr_llm, make_client, req

ADA = "My name is Ada"
QUESTION = "What is my name?"


# -- the memory agent reads a stateless transcript --------------------------------------------
def test_memory_agent_answers_from_a_stateless_chatlyzr_transcript(lyzr_emulator: Emulator) -> None:
    model = chat_lyzr(lyzr_emulator, "memory")
    answer = model.invoke([HumanMessage(ADA), AIMessage("Hello Ada."), HumanMessage(QUESTION)])
    assert answer.content == f"Earlier you said: {ADA}"
    sent = lyzr_emulator.requests[-1].json
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    model.close()


async def test_memory_agent_answers_from_a_stateless_lyzrllm_transcript(
    lyzr_emulator: Emulator,
) -> None:
    llm = lyzr_llm(lyzr_emulator, "memory")
    history = [
        ChatMessage(role="user", content=ADA),
        ChatMessage(role="assistant", content="Hello Ada."),
        ChatMessage(role="user", content=QUESTION),
    ]
    chunks = [r async for r in await llm.astream_chat(history)]
    assert chunks[-1].message.content == f"Earlier you said: {ADA}"
    await llm.aclose()


def test_memory_agent_reads_a_transcript_written_into_the_message(
    lyzr_emulator: Emulator,
) -> None:
    """Dialects without ``messages`` get the transcript as text (``transcript_text``)."""
    message = transcript_text(
        [
            CoreMessage(role="user", content=ADA),
            CoreMessage(role="assistant", content="Hello Ada."),
            CoreMessage(role="user", content=QUESTION),
        ]
    )
    with make_client(lyzr_emulator) as client:
        response = client.chat(req("memory", message))
    assert response.text == f"Earlier you said: {ADA}"


def test_memory_agent_without_a_transcript_answers_from_the_session(
    lyzr_emulator: Emulator,
) -> None:
    session = f"mem-{uuid.uuid4().hex[:8]}"
    with chat_lyzr(lyzr_emulator, "memory", session_id=session) as model:
        assert model.invoke(ADA).content == "This is the start of our conversation."
        assert model.invoke(QUESTION).content == f"Earlier you said: {ADA}"


# -- slow and stall affect the one-shot route ----------------------------------------------------
def test_slow_agent_is_slow_on_the_one_shot_route_and_a_timeout_stops_it(
    lyzr_emulator: Emulator,
) -> None:
    session = f"slow-{uuid.uuid4().hex[:8]}"
    with make_client(lyzr_emulator) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            client.chat(req("slow", session_id=session), timeout=Timeouts(total=0.5))
        assert 0.4 < time.monotonic() - started < 2.0
    # The agent may still run: the client asked it to stop (closing waits for the stop).
    assert lyzr_emulator.stop_requests.count(session) == 1


@pytest.mark.parametrize("surface", ["core", "langchain"])
def test_stall_fault_delays_the_one_shot_route(lyzr_emulator: Emulator, surface: str) -> None:
    stall = {"x-emulator-fault": "stall-after:1:0.4"}
    started = time.monotonic()
    if surface == "core":
        with make_client(lyzr_emulator, default_headers=stall) as client:
            assert client.chat(req("echo", "hi")).text == "You said: hi"
    else:
        with chat_lyzr(lyzr_emulator, default_headers=stall) as model:
            assert model.invoke("hi").content == "You said: hi"
    assert time.monotonic() - started >= 0.4


# -- artifacts arrive on streams ------------------------------------------------------------------
def test_artifacts_arrive_on_a_chatlyzr_stream_in_the_text_form(lyzr_emulator: Emulator) -> None:
    with chat_lyzr(lyzr_emulator, "artifacts") as model:
        merged: AIMessageChunk | None = None
        for chunk in model.stream("hi"):
            merged = chunk if merged is None else merged + chunk
    assert merged is not None
    assert merged.content == "You said: hi"  # the block is not answer text
    assert [a["name"] for a in merged.response_metadata["artifacts"]] == ["report.txt"]


async def test_artifacts_arrive_on_a_lyzrllm_stream_in_the_text_form(
    lyzr_emulator: Emulator,
) -> None:
    async with lyzr_llm(lyzr_emulator, "artifacts") as llm:
        responses = [r async for r in await llm.astream_complete("hi")]
    assert responses[-1].text == "You said: hi"
    artifacts = responses[-1].additional_kwargs["artifacts"]
    assert [a["name"] for a in artifacts] == ["report.txt"]


def test_artifacts_arrive_on_a_core_stream_in_the_text_form(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator) as client, client.stream(req("artifacts", "hi")) as stream:
        response = stream.until_done()
    assert response.text == "You said: hi"
    assert [a["name"] for a in response.artifacts] == ["report.txt"]
