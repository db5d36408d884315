"""ChatLyzr tool calling through Lyzr local tools, against the emulator's tool-caller agents."""

from __future__ import annotations

import operator
import warnings
from functools import reduce
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool

from lyzr_stream import InvalidRequestError
from lyzr_stream.emulator import Emulator
from tests.helpers.bodies import local_tools
from tests.langchain.conftest import ModelFactory, Person, add, answer_requests


@tool
def now() -> str:
    """The current time."""
    return "12:00"


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def multiply(x: float, y: float) -> float:
    """Multiply two numbers."""
    return x * y


_DICT_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a word up.",
        "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
    },
}


def _run_tools(message: AIMessage) -> list[ToolMessage]:
    registry = {"add": add, "now": now, "get_weather": get_weather}
    return [registry[call["name"]].invoke(call) for call in message.tool_calls]


# -- what goes out ---------------------------------------------------------------------------------
def test_bind_tools_accepts_every_tool_form_and_sends_them(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("tool-caller").bind_tools([add, Person, multiply, _DICT_TOOL])
    model.invoke("nothing to call here")
    body = lyzr_emulator.requests[-1].json
    tools = local_tools(body)["tools"]
    assert [t["name"] for t in tools] == ["add", "Person", "multiply", "lookup"]
    add_params = tools[0]["parameters"]
    assert add_params["properties"]["a"]["type"] == "integer"
    assert set(add_params["required"]) == {"a", "b"}
    assert tools[1]["description"] == "A person."
    assert body["messages"] == [{"role": "user", "content": "nothing to call here"}]


def test_invalid_tool_choice_fails_before_sending(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    with pytest.raises(InvalidRequestError, match="tool_choice"):
        make_model("tool-caller").bind_tools([add], tool_choice="subtract")
    assert lyzr_emulator.requests == []


def test_duplicate_tool_names_fail_before_sending(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("tool-caller").bind_tools([add, add])
    with pytest.raises(InvalidRequestError, match="add"):
        model.invoke("add(1, 2)")
    assert lyzr_emulator.requests == []


# -- round trips -----------------------------------------------------------------------------------
def test_round_trip_with_several_calls_in_one_round(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("tool-caller", session_id="tools-1").bind_tools([add, now])
    history: list[Any] = [HumanMessage("What is add(2, 3)? Also now().")]
    first = model.invoke(history)
    assert isinstance(first, AIMessage)
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [
        ("add", {"a": 2, "b": 3}),
        ("now", {}),
    ]
    assert all(c["id"] for c in first.tool_calls)
    assert first.response_metadata["finish_reason"] == "tool_calls"

    results = _run_tools(first)
    assert [r.content for r in results] == ["5", "12:00"]
    history += [first, *results]
    second = model.invoke(history)
    assert second.tool_calls == []
    assert second.text == "Using the tool results: add returned 5; now returned 12:00."

    bodies = [r.json for r in lyzr_emulator.requests]
    assert [b["session_id"] for b in bodies] == ["tools-1", "tools-1"]
    sent = bodies[1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert [m["tool_call_id"] for m in sent[2:]] == [c["id"] for c in first.tool_calls]
    # The assistant turn is resent in the service's own (proxy) form.
    assert sent[1]["tool_calls"][0]["function"]["name"] == "local_tool"


async def test_async_round_trip(make_model: ModelFactory) -> None:
    model = make_model("tool-caller").bind_tools([get_weather])
    history: list[Any] = [HumanMessage("What is the weather in 'Paris'?")]
    first = await model.ainvoke(history)
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    results = [await get_weather.ainvoke(c) for c in first.tool_calls]
    second = await model.ainvoke([*history, first, *results])
    assert second.text == "Using the tool results: get_weather returned sunny in Paris."


def test_stream_delivers_tool_call_chunks(make_model: ModelFactory) -> None:
    model = make_model("tool-caller").bind_tools([add, now])
    chunks = list(model.stream("add(40, 2) then now()"))
    with_calls = [c for c in chunks if c.tool_call_chunks]
    assert with_calls, "no chunk carried tool_call_chunks"
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert isinstance(full, AIMessageChunk)
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [
        ("add", {"a": 40, "b": 2}),
        ("now", {}),
    ]
    assert chunks[-1].chunk_position == "last"


async def test_astream_round_trip(make_model: ModelFactory) -> None:
    model = make_model("tool-caller").bind_tools([add])
    history: list[Any] = [HumanMessage("add(1, 1)")]
    full: AIMessageChunk | None = None
    async for chunk in model.astream(history):
        full = chunk if full is None else full + chunk
    assert full is not None and full.tool_calls[0]["args"] == {"a": 1, "b": 1}
    results = _run_tools(full)
    text = ""
    async for chunk in model.astream([*history, full, *results]):
        text += chunk.text
    assert text == "Using the tool results: add returned 2."


def test_direct_calls_without_the_proxy(make_model: ModelFactory) -> None:
    model = make_model("tool-caller-direct").bind_tools([add])
    message = model.invoke("add(7, 8)")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("add", {"a": 7, "b": 8})]
    answer = model.invoke([HumanMessage("add(7, 8)"), message, *_run_tools(message)])
    assert answer.text == "Using the tool results: add returned 15."


# -- failed and unknown tools ----------------------------------------------------------------------
def test_tool_errors_go_back_as_tool_messages(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("tool-caller").bind_tools([add])
    history: list[Any] = [HumanMessage("add(1, 2)")]
    first = model.invoke(history)
    failed = ToolMessage(
        "Error: the calculator is offline",
        tool_call_id=first.tool_calls[0]["id"],
        name="add",
        status="error",
    )
    answer = model.invoke([*history, first, failed])
    assert answer.text == "Using the tool results: add returned Error: the calculator is offline."
    sent = lyzr_emulator.requests[-1].json["messages"][-1]
    assert sent["role"] == "tool" and sent["tool_call_id"] == first.tool_calls[0]["id"]


def test_tool_error_status_goes_back_as_error_content(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("tool-caller").bind_tools([add])
    first = model.invoke("add(1, 2)")
    call_id = first.tool_calls[0]["id"]
    for content, sent in (
        ("the calculator is offline", "Error: the calculator is offline"),
        ("Error: already prefixed", "Error: already prefixed"),
    ):
        failed = ToolMessage(content, tool_call_id=call_id, name="add", status="error")
        model.invoke([HumanMessage("add(1, 2)"), first, failed])
        assert answer_requests(lyzr_emulator)[-1].json["messages"][-1]["content"] == sent
    ok = ToolMessage("3", tool_call_id=call_id, name="add")
    model.invoke([HumanMessage("add(1, 2)"), first, ok])
    assert answer_requests(lyzr_emulator)[-1].json["messages"][-1]["content"] == "3"


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_an_unknown_tool_comes_back_as_a_tool_call(make_model: ModelFactory, mode: str) -> None:
    # The core no longer refuses it: ToolNode / create_agent answer unknown tools themselves.
    model = make_model("tool-caller-unknown").bind_tools([add])
    if mode == "invoke":
        message = model.invoke("add(1, 2)")
    else:
        message = reduce(operator.add, model.stream("add(1, 2)"))
    assert [c["name"] for c in message.tool_calls] == ["not_a_bound_tool"]


async def test_an_unknown_tool_comes_back_async(make_model: ModelFactory) -> None:
    model = make_model("tool-caller-unknown").bind_tools([add])
    message = await model.ainvoke("add(1, 2)")
    assert [c["name"] for c in message.tool_calls] == ["not_a_bound_tool"]


@pytest.mark.parametrize("streaming", [False, True])
def test_create_agent_answers_an_unknown_tool_itself(
    make_model: ModelFactory, lyzr_emulator: Emulator, streaming: bool
) -> None:
    from langchain.agents import create_agent

    model = make_model("tool-caller-unknown", **({"streaming": True} if streaming else {}))
    agent = create_agent(model, tools=[add])
    result = agent.invoke({"messages": [HumanMessage("add(1, 2)")]})
    kinds = [type(m).__name__ for m in result["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    call, error = result["messages"][1], result["messages"][2]
    assert call.tool_calls[0]["name"] == "not_a_bound_tool"
    assert error.status == "error" and "not_a_bound_tool" in error.text
    # The error went back to the agent as lyzr-adk sends one, and the agent answered.
    sent = answer_requests(lyzr_emulator)[-1].json["messages"][-1]
    assert sent["role"] == "tool" and sent["content"].startswith("Error: ")
    assert result["messages"][-1].text.startswith("Using the tool results:")


# -- tool_choice -----------------------------------------------------------------------------------
def test_tool_choice_forces_and_forbids(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    base = make_model("tool-caller")
    forced = base.bind_tools([add, now], tool_choice="now").invoke("hello")
    assert [c["name"] for c in forced.tool_calls] == ["now"]
    assert local_tools(lyzr_emulator.requests[-1].json)["tool_choice"] == "now"

    anything = base.bind_tools([add, now], tool_choice="any").invoke("hello")
    assert len(anything.tool_calls) == 1

    forbidden = base.bind_tools([add], tool_choice="none").invoke("add(1, 2)")
    assert forbidden.tool_calls == []
    assert forbidden.text == "You said: add(1, 2)"

    as_dict = base.bind_tools([add], tool_choice={"type": "function", "function": {"name": "add"}})
    assert as_dict.invoke("hi").tool_calls[0]["name"] == "add"


# -- agents ----------------------------------------------------------------------------------------
def _agent_answer(result: dict[str, Any]) -> tuple[list[str], str]:
    messages = result["messages"]
    kinds = [type(m).__name__ for m in messages]
    return kinds, messages[-1].text


def test_create_agent_runs_a_local_tool(make_model: ModelFactory) -> None:
    from langchain.agents import create_agent

    calls: list[tuple[int, int]] = []

    @tool
    def add_logged(a: int, b: int) -> int:
        """Add two integers (and remember the call)."""
        calls.append((a, b))
        return a + b

    agent = create_agent(make_model("tool-caller"), tools=[add_logged])
    result = agent.invoke({"messages": [HumanMessage("What is add_logged(19, 23)?")]})
    kinds, text = _agent_answer(result)
    assert calls == [(19, 23)]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert text == "Using the tool results: add_logged returned 42."


async def test_create_agent_async_streams_tokens(make_model: ModelFactory) -> None:
    from langchain.agents import create_agent

    # coalesce=False: one chunk per token even when the agent loop reads slower than they come.
    agent = create_agent(make_model("tool-caller", coalesce=False), tools=[get_weather])
    tokens: list[str] = []
    async for message, _meta in agent.astream(
        {"messages": [HumanMessage("The weather in 'Oslo', please")]}, stream_mode="messages"
    ):
        if isinstance(message, AIMessageChunk) and message.text:
            tokens.append(message.text)
    assert len(tokens) > 3, "the final answer was not streamed token by token"
    assert "".join(tokens) == "Using the tool results: get_weather returned sunny in Oslo."


def test_langgraph_prebuilt_react_agent(make_model: ModelFactory) -> None:
    with warnings.catch_warnings():
        # create_react_agent is deprecated in favour of create_agent.
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(make_model("tool-caller"), tools=[add, now])
    result = agent.invoke({"messages": [HumanMessage("add(2, 2) and now()")]})
    kinds, text = _agent_answer(result)
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "ToolMessage", "AIMessage"]
    assert text == "Using the tool results: add returned 4; now returned 12:00."
