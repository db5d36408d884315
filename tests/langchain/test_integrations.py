"""ChatLyzr inside real LangChain clients: LCEL, LangGraph, message history, event streams."""

from __future__ import annotations

import warnings
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages

from lyzr_stream.emulator import Emulator
from tests.helpers import activity_dialect  # noqa: F401  (registers the "test-activity" dialect)

from .conftest import ModelFactory, TokenRecorder


def test_lcel_chain_streams(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You answer about {topic}."), ("human", "{question}")]
    )
    chain = prompt | make_model() | StrOutputParser()
    pieces = list(chain.stream({"topic": "agents", "question": "what is an agent?"}))
    assert len(pieces) > 1
    assert "".join(pieces) == "You said: what is an agent?"
    assert lyzr_emulator.requests[-1].json["messages"][0] == {
        "role": "system",
        "content": "You answer about agents.",
    }
    # The chain's configurable reaches the model too.
    chain.invoke({"topic": "t", "question": "q"}, config={"configurable": {"session_id": "lc"}})
    assert lyzr_emulator.requests[-1].json["session_id"] == "lc"


async def test_lcel_chain_astream(make_model: ModelFactory) -> None:
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | make_model() | StrOutputParser()
    pieces = [p async for p in chain.astream({"q": "hi there"})]
    assert "".join(pieces) == "You said: hi there"


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _graph(model: Any) -> Any:
    def call_model(state: State) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(State)
    builder.add_node("agent", call_model)
    builder.add_edge(START, "agent")
    return builder.compile(checkpointer=InMemorySaver())


def test_langgraph_stream_mode_messages_and_thread_session(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    graph = _graph(make_model("memory"))
    config = {"configurable": {"thread_id": "graph-thread-1"}}
    list(graph.stream({"messages": [HumanMessage("first")]}, config, stream_mode="messages"))
    tokens = [
        chunk.text
        for chunk, _meta in graph.stream(
            {"messages": [HumanMessage("second")]}, config, stream_mode="messages"
        )
    ]
    assert "".join(tokens) == "Earlier you said: first"
    assert len(tokens) > 1
    # Only the new turn was sent each time, in the thread's session.
    assert [r.json["message"] for r in lyzr_emulator.requests] == ["first", "second"]
    assert {r.json["session_id"] for r in lyzr_emulator.requests} == {"graph-thread-1"}


async def test_langgraph_astream_messages(make_model: ModelFactory) -> None:
    graph = _graph(make_model())
    config = {"configurable": {"thread_id": "graph-async"}}
    tokens = [
        chunk.text
        async for chunk, _meta in graph.astream(
            {"messages": [HumanMessage("hey")]}, config, stream_mode="messages"
        )
    ]
    assert "".join(tokens) == "You said: hey"


def test_runnable_with_message_history_in_history_mode(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    store: dict[str, InMemoryChatMessageHistory] = {}
    prompt = ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history"), ("human", "{input}")]
    )
    chain = RunnableWithMessageHistory(
        prompt | make_model(message_mode="history"),
        lambda sid: store.setdefault(sid, InMemoryChatMessageHistory()),
        input_messages_key="input",
        history_messages_key="history",
    )
    config = {"configurable": {"session_id": "hist-1"}}
    chain.invoke({"input": "one"}, config=config)
    chain.invoke({"input": "two"}, config=config)
    body = lyzr_emulator.requests[-1].json
    assert [m["content"] for m in body["messages"]] == ["one", "You said: one", "two"]
    assert body["session_id"] == "hist-1"
    assert len(store["hist-1"].messages) == 4


def test_callback_handler_receives_tokens(make_model: ModelFactory) -> None:
    recorder = TokenRecorder()
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | make_model(streaming=True)
    message = chain.invoke({"q": "a b c"}, config={"callbacks": [recorder]})
    assert "".join(recorder.tokens) == message.content == "You said: a b c"


async def test_astream_events_v2(make_model: ModelFactory) -> None:
    events = [e async for e in make_model().astream_events("x y", version="v2")]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "on_chat_model_start" and kinds[-1] == "on_chat_model_end"
    text = "".join(e["data"]["chunk"].text for e in events if e["event"] == "on_chat_model_stream")
    assert text == "You said: x y"


def test_stream_events_v3(make_model: ModelFactory) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stream = make_model("reasoning").stream_events("x", version="v3")
        events = list(stream)
    assert events
    output = stream.output
    assert isinstance(output, AIMessage)
    assert output.text == "The answer is 42."
    assert any(b.get("type") == "reasoning" for b in output.content_blocks)


async def test_astream_events_v3(make_model: ModelFactory) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stream = await make_model().astream_events("x", version="v3")
        events = [e async for e in stream]
    assert events
    assert (await stream.output).text == "You said: x"


def test_server_tool_activity_as_custom_events(make_model: ModelFactory) -> None:
    recorder = TokenRecorder()
    model = make_model(dialect="test-activity")
    chunks = list(model.stream("q", config={"callbacks": [recorder]}))
    assert "".join(c.text for c in chunks) == "You said: q"
    assert recorder.custom == [
        ("lyzr_tool_call", {"name": "search", "raw": {}, "arguments": {"q": "lyzr"}}),
        ("lyzr_tool_result", {"name": "search", "raw": {}, "result": {"hits": 2}}),
    ]
    # Never surfaced as tool calls for the client to run.
    assert not any(c.tool_call_chunks for c in chunks)


async def test_server_tool_activity_in_astream_events(make_model: ModelFactory) -> None:
    model = make_model(dialect="test-activity")
    events = [e async for e in model.astream_events("q", version="v2")]
    custom = [e for e in events if e["event"] == "on_custom_event"]
    assert [e["name"] for e in custom] == ["lyzr_tool_call", "lyzr_tool_result"]
    assert custom[0]["data"]["arguments"] == {"q": "lyzr"}


@pytest.mark.parametrize("streaming", [True, False])
def test_tool_activity_in_invoke(make_model: ModelFactory, streaming: bool) -> None:
    recorder = TokenRecorder()
    model = make_model(dialect="test-activity", streaming=streaming)
    assert model.invoke("q", config={"callbacks": [recorder]}).content == "You said: q"
    assert [name for name, _ in recorder.custom] == ["lyzr_tool_call", "lyzr_tool_result"]
