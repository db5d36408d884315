"""ChatLyzr with the agent events channel: custom events in callbacks and astream_events."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessageChunk

from langchain_lyzr_stream import ChatLyzr
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.agent_events import events_url_of
from lyzr_stream.emulator.event_agents import SERVER_TOOLS_ANSWER
from tests.langchain.conftest import ModelFactory

ANSWER = SERVER_TOOLS_ANSWER.format(topic="lyzr")
BEFORE_TEXT = [
    ("lyzr_agent_event", "process_start"),
    ("lyzr_agent_event", "messages_retrieved"),
    ("lyzr_tool_call", "web_search"),
    ("lyzr_tool_result", "web_search"),
    ("lyzr_tool_call", "kb_lookup"),
    ("lyzr_agent_event", "kb_documents_retrieved"),
    ("lyzr_tool_result", "kb_lookup"),
    ("lyzr_tool_call", "Researcher"),
    ("lyzr_tool_result", "Researcher"),
    ("lyzr_agent_event", "llm_generation"),
]
AFTER_TEXT = [
    ("lyzr_agent_event", "llm_response"),
    ("lyzr_agent_event", "process_start"),  # the same entry, now completed: update=True
    ("lyzr_agent_event", "agent_process_end"),
]


class Recorder(BaseCallbackHandler):
    """Tokens and custom events, in the order the callbacks saw them."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        if token:
            self.seen.append(("token", token))

    def on_custom_event(
        self, name: str, data: Any, *, run_id: UUID, tags: Any = None, **kwargs: Any
    ) -> None:
        self.seen.append((name, data))


def events_model(make_model: ModelFactory, em: Emulator, **kw: Any) -> ChatLyzr:
    return make_model(
        "server-tools-5", agent_events=True, events_url=events_url_of(em.base_url), **kw
    )


def check(seen: list[tuple[str, Any]]) -> None:
    def label(name: str, data: Any) -> tuple[str, str]:
        return (name, data["type"] if name == "lyzr_agent_event" else data["name"])

    tokens = [i for i, (name, _) in enumerate(seen) if name == "token"]
    assert "".join(seen[i][1] for i in tokens) == ANSWER
    before = [label(*seen[i]) for i in range(tokens[0])]
    after = [label(*seen[i]) for i in range(tokens[-1] + 1, len(seen))]
    assert before == BEFORE_TEXT
    assert after == AFTER_TEXT
    assert [label(n, d) for n, d in seen[tokens[0] : tokens[-1]] if n != "token"] == []
    update = seen[tokens[-1] + 2][1]
    assert (update["status"], update["update"]) == ("completed", True)
    call = next(d for n, d in seen if n == "lyzr_tool_call")
    assert call["arguments"] == {"query": "lyzr"}


def test_stream_reports_the_agents_events_in_order(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    recorder = Recorder()
    model = events_model(make_model, lyzr_emulator)
    chunks = list(model.stream("lyzr", config={"callbacks": [recorder]}))
    check(recorder.seen)
    reasoning = "".join(c.additional_kwargs.get("reasoning_content", "") for c in chunks)
    assert "Search the web first." in reasoning


async def test_astream_events_carries_them(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = events_model(make_model, lyzr_emulator)
    seen: list[tuple[str, Any]] = []
    async for event in model.astream_events("lyzr", version="v2"):
        if event["event"] == "on_custom_event":
            seen.append((event["name"], event["data"]))
        elif event["event"] == "on_chat_model_stream":
            chunk: AIMessageChunk = event["data"]["chunk"]
            if chunk.text:
                seen.append(("token", chunk.text))
    check(seen)


@pytest.mark.parametrize("use_async", [False, True])
async def test_streaming_invoke_reports_them_under_its_run(
    make_model: ModelFactory, lyzr_emulator: Emulator, use_async: bool
) -> None:
    recorder = Recorder()
    model = events_model(make_model, lyzr_emulator, streaming=True)
    config: Any = {"callbacks": [recorder]}
    message = await model.ainvoke("lyzr", config) if use_async else model.invoke("lyzr", config)
    assert message.text == ANSWER
    assert "Delegate the summary" in message.additional_kwargs["reasoning_content"]
    check(recorder.seen)


def test_refused_socket_leaves_the_answer_whole(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    recorder = Recorder()
    model = events_model(make_model, lyzr_emulator, session_id="lc-ws-refuse")
    text = "".join(c.text for c in model.stream("lyzr", config={"callbacks": [recorder]}))
    assert text == ANSWER
    assert [name for name, _ in recorder.seen if name != "token"] == []


def test_langgraph_custom_stream_mode_receives_them(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    from langgraph.graph import START, MessagesState, StateGraph

    model = events_model(make_model, lyzr_emulator, streaming=True)

    def agent(state: MessagesState) -> dict[str, list[Any]]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node("agent", agent).add_edge(START, "agent").compile()
    custom = list(graph.stream({"messages": [("user", "lyzr")]}, stream_mode="custom"))
    labels = [
        (c["event"], c["type"] if c["event"] == "lyzr_agent_event" else c["name"]) for c in custom
    ]
    assert labels == BEFORE_TEXT + AFTER_TEXT


def test_no_graph_no_writer() -> None:
    from langchain_core.runnables import RunnableLambda

    from langchain_lyzr_stream._turn import graph_writer

    assert graph_writer() is None
    assert RunnableLambda(lambda _: graph_writer()).invoke(1) is None  # a run, but no graph
