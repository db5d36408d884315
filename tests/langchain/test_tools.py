"""ChatLyzr tool calling through Lyzr local tools, against the emulator's tool-caller agents."""

from __future__ import annotations

import operator
import warnings
from functools import reduce
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from lyzr_stream import InvalidRequestError
from lyzr_stream.emulator import Emulator

from .conftest import ModelFactory


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def now() -> str:
    """The current time."""
    return "12:00"


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


class Person(BaseModel):
    """A person."""

    name: str = Field(description="the person's name")
    age: int = Field(description="the person's age in years")


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


def _local_tools(body: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in body["features"] if f["type"] == "local_tools")["config"]


# -- what goes out ---------------------------------------------------------------------------------
def test_bind_tools_accepts_every_tool_form_and_sends_them(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("tool-caller").bind_tools([add, Person, multiply, _DICT_TOOL])
    model.invoke("nothing to call here")
    body = lyzr_emulator.requests[-1].json
    tools = _local_tools(body)["tools"]
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


# -- tool_choice -----------------------------------------------------------------------------------
def test_tool_choice_forces_and_forbids(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    base = make_model("tool-caller")
    forced = base.bind_tools([add, now], tool_choice="now").invoke("hello")
    assert [c["name"] for c in forced.tool_calls] == ["now"]
    assert _local_tools(lyzr_emulator.requests[-1].json)["tool_choice"] == "now"

    anything = base.bind_tools([add, now], tool_choice="any").invoke("hello")
    assert len(anything.tool_calls) == 1

    forbidden = base.bind_tools([add], tool_choice="none").invoke("add(1, 2)")
    assert forbidden.tool_calls == []
    assert forbidden.text == "You said: add(1, 2)"

    as_dict = base.bind_tools([add], tool_choice={"type": "function", "function": {"name": "add"}})
    assert as_dict.invoke("hi").tool_calls[0]["name"] == "add"


# -- structured output -----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_structured_output(make_model: ModelFactory, lyzr_emulator: Emulator, method: str) -> None:
    model = make_model("tool-caller").with_structured_output(Person, method=method)  # type: ignore[arg-type]
    person = model.invoke("Tell me about 'Ada'")
    assert isinstance(person, Person)
    body = lyzr_emulator.requests[-1].json
    if method == "json_schema":
        # lyzr-adk's form: the model's own JSON schema, not OpenAI's json_schema wrapper.
        assert body["response_format"] == Person.model_json_schema()
    else:
        assert _local_tools(body)["tools"][0]["name"] == "Person"
        assert person.name == "Ada"


@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
async def test_structured_output_include_raw(make_model: ModelFactory, method: str) -> None:
    schema: Any = (
        Person
        if method != "json_mode"
        else {
            "title": "Joke",
            "type": "object",
            "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}},
        }
    )
    model = make_model("tool-caller").with_structured_output(
        schema,
        method=method,
        include_raw=True,  # type: ignore[arg-type]
    )
    out = await model.ainvoke("A joke with 'setup' and 'punchline' keys")
    assert isinstance(out["raw"], AIMessage)
    assert out["parsing_error"] is None
    if method == "json_mode":
        assert set(out["parsed"]) == {"setup", "punchline"}
    else:
        assert isinstance(out["parsed"], Person)


def test_structured_output_reports_parsing_errors_with_include_raw(
    make_model: ModelFactory,
) -> None:
    class Strict(BaseModel):
        count: int

    # json_mode returns an object without "count": the parser fails, include_raw keeps it.
    model = make_model("tool-caller").with_structured_output(
        Strict, method="json_mode", include_raw=True
    )
    out = model.invoke("no keys here")
    assert out["parsed"] is None
    assert out["parsing_error"] is not None
    assert "answer" in out["raw"].text


def test_structured_output_rejects_unknown_method(make_model: ModelFactory) -> None:
    with pytest.raises(InvalidRequestError, match="method"):
        make_model().with_structured_output(Person, method="xml")  # type: ignore[arg-type]


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
