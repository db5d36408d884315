"""LyzrLLM with the agent events channel: instrumentation events and thinking blocks, in order."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ThinkingBlock

from llamaindex_lyzr_stream import LyzrAgentEvent, LyzrLLM, LyzrToolActivityEvent
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.agent_events import events_url_of
from lyzr_stream.emulator.event_agents import SERVER_TOOLS_ANSWER, SERVER_TOOLS_STEPS
from tests.llamaindex.conftest import EventRecorder, LLMFactory


def events_llm(make_llm: LLMFactory, em: Emulator) -> LyzrLLM:
    return make_llm("server-tools-5", agent_events=True, events_url=events_url_of(em.base_url))


def check_order(recorder: EventRecorder) -> None:
    events = recorder.events
    lyzr = [e for e in events if isinstance(e, (LyzrAgentEvent, LyzrToolActivityEvent))]
    tools = [(e.phase, e.tool_name) for e in lyzr if isinstance(e, LyzrToolActivityEvent)]
    assert tools == list(SERVER_TOOLS_STEPS)
    kinds = [(e.event_type, e.update) for e in lyzr if isinstance(e, LyzrAgentEvent)]
    assert kinds == [
        ("process_start", False),
        ("messages_retrieved", False),
        ("kb_documents_retrieved", False),
        ("llm_generation", False),
        ("llm_response", False),
        ("process_start", True),
        ("agent_process_end", False),
    ]
    texts = [
        i
        for i, e in enumerate(events)
        if type(e).__name__.endswith("InProgressEvent") and getattr(e.response, "delta", "")
    ]
    position = {id(e): i for i, e in enumerate(events)}
    assert all(position[id(e)] < texts[0] for e in lyzr if isinstance(e, LyzrToolActivityEvent))
    (late,) = [e for e in lyzr if getattr(e, "event_type", "") == "agent_process_end"]
    assert position[id(late)] > texts[-1], "the late event came after the text"
    assert all(e.session_id for e in lyzr)


def thinking_of(message: ChatMessage) -> str:
    return "".join(b.content or "" for b in message.blocks if isinstance(b, ThinkingBlock))


def test_stream_chat_dispatches_agent_events(
    make_llm: LLMFactory, lyzr_emulator: Emulator, recorder: EventRecorder
) -> None:
    llm = events_llm(make_llm, lyzr_emulator)
    responses = list(llm.stream_chat([ChatMessage(role="user", content="lyzr")]))
    assert responses[-1].message.content == SERVER_TOOLS_ANSWER.format(topic="lyzr")
    assert "Search the web first." in thinking_of(responses[-1].message)
    check_order(recorder)


async def test_astream_chat_dispatches_agent_events(
    make_llm: LLMFactory, lyzr_emulator: Emulator, recorder: EventRecorder
) -> None:
    llm = events_llm(make_llm, lyzr_emulator)
    responses: list[Any] = []
    async for response in await llm.astream_chat([ChatMessage(role="user", content="lyzr")]):
        responses.append(response)
    assert responses[-1].message.content == SERVER_TOOLS_ANSWER.format(topic="lyzr")
    assert "Delegate the summary" in thinking_of(responses[-1].message)
    check_order(recorder)


def test_refused_socket_leaves_the_answer_whole(
    make_llm: LLMFactory, lyzr_emulator: Emulator, recorder: EventRecorder
) -> None:
    llm = events_llm(make_llm, lyzr_emulator)
    response = llm.complete("lyzr", session_id="li-ws-refuse")
    assert response.text == SERVER_TOOLS_ANSWER.format(topic="lyzr")
    streamed = list(llm.stream_complete("lyzr", session_id="li-ws-refuse-2"))
    assert streamed[-1].text == SERVER_TOOLS_ANSWER.format(topic="lyzr")
    assert not [e for e in recorder.events if isinstance(e, LyzrAgentEvent)]
