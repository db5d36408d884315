"""LyzrLLM as a FunctionCallingLLM, against the emulator's tool-caller agents."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.agent.workflow import (
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ToolCallResult,
)
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from lyzr_stream import InvalidRequestError, UnknownToolError
from lyzr_stream.emulator import Emulator

from .conftest import LLMFactory


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def now() -> str:
    """The current time."""
    return "12:00"


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


ADD = FunctionTool.from_defaults(add)
NOW = FunctionTool.from_defaults(now)
WEATHER = FunctionTool.from_defaults(get_weather)
TOOLS = {"add": ADD, "now": NOW, "get_weather": WEATHER}


def _tool_results(llm: Any, response: Any) -> list[ChatMessage]:
    out = []
    for call in llm.get_tool_calls_from_response(response):
        output = TOOLS[call.tool_name](**call.tool_kwargs)
        out.append(
            ChatMessage(
                role=MessageRole.TOOL,
                content=str(output),
                additional_kwargs={"tool_call_id": call.tool_id},
            )
        )
    return out


def _local_tools(body: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in body["features"] if f["type"] == "local_tools")["config"]


def test_chat_with_tools_round_trip(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm("tool-caller", session_id="li-tools")
    history = [ChatMessage(role=MessageRole.USER, content="add(2, 3) and now()")]
    first = llm.chat_with_tools([ADD, NOW], chat_history=history, allow_parallel_tool_calls=True)
    calls = llm.get_tool_calls_from_response(first)
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("add", {"a": 2, "b": 3}), ("now", {})]
    assert all(c.tool_id for c in calls)

    results = _tool_results(llm, first)
    second = llm.chat_with_tools([ADD, NOW], chat_history=[*history, first.message, *results])
    assert llm.get_tool_calls_from_response(second, error_on_no_tool_call=False) == []
    assert second.message.content == "Using the tool results: add returned 5; now returned 12:00."

    bodies = [r.json for r in lyzr_emulator.requests]
    assert [b["session_id"] for b in bodies] == ["li-tools", "li-tools"]
    assert [t["name"] for t in _local_tools(bodies[0])["tools"]] == ["add", "now"]
    sent = bodies[1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert [m["tool_call_id"] for m in sent[2:]] == [c.tool_id for c in calls]
    assert [m["name"] for m in sent[2:]] == ["add", "now"]


async def test_achat_with_tools(make_llm: LLMFactory) -> None:
    llm = make_llm("tool-caller")
    first = await llm.achat_with_tools([WEATHER], user_msg="Weather in 'Lima'?")
    calls = llm.get_tool_calls_from_response(first)
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("get_weather", {"city": "Lima"})]
    history = [ChatMessage(role=MessageRole.USER, content="Weather in 'Lima'?"), first.message]
    second = await llm.achat_with_tools([WEATHER], chat_history=history + _tool_results(llm, first))
    assert second.message.content == "Using the tool results: get_weather returned sunny in Lima."


def test_stream_chat_with_tools(make_llm: LLMFactory) -> None:
    llm = make_llm("tool-caller")
    responses = list(llm.stream_chat_with_tools([ADD], user_msg="add(20, 22)"))
    calls = llm.get_tool_calls_from_response(responses[-1])
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("add", {"a": 20, "b": 22})]
    history = [ChatMessage(role=MessageRole.USER, content="add(20, 22)"), responses[-1].message]
    deltas = [
        r.delta
        for r in llm.stream_chat_with_tools(
            [ADD], chat_history=history + _tool_results(llm, responses[-1])
        )
    ]
    assert len([d for d in deltas if d]) > 3
    assert "".join(d or "" for d in deltas) == "Using the tool results: add returned 42."


async def test_astream_chat_with_tools_direct_calls(make_llm: LLMFactory) -> None:
    llm = make_llm("tool-caller-direct")
    last = None
    async for response in await llm.astream_chat_with_tools([ADD], user_msg="add(1, 2)"):
        last = response
    assert last is not None
    assert [c.tool_kwargs for c in llm.get_tool_calls_from_response(last)] == [{"a": 1, "b": 2}]


def test_parallel_calls_are_trimmed_unless_allowed(make_llm: LLMFactory) -> None:
    llm = make_llm("tool-caller")
    single = llm.chat_with_tools([ADD, NOW], user_msg="add(1, 1) and now()")
    assert [c.tool_name for c in llm.get_tool_calls_from_response(single)] == ["add"]
    blocks = [b for b in single.message.blocks if isinstance(b, ToolCallBlock)]
    assert len(blocks) == 1
    both = llm.chat_with_tools(
        [ADD, NOW], user_msg="add(1, 1) and now()", allow_parallel_tool_calls=True
    )
    assert len(llm.get_tool_calls_from_response(both)) == 2


def test_tool_required_and_tool_choice(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm("tool-caller")
    forced = llm.chat_with_tools([ADD, NOW], user_msg="hello", tool_required=True)
    assert len(llm.get_tool_calls_from_response(forced)) == 1
    assert _local_tools(lyzr_emulator.requests[-1].json)["tool_choice"] == "any"
    named = llm.chat_with_tools([ADD, NOW], user_msg="hello", tool_choice="now")
    assert [c.tool_name for c in llm.get_tool_calls_from_response(named)] == ["now"]
    with pytest.raises(InvalidRequestError, match="tool_choice"):
        llm.chat_with_tools([ADD], user_msg="hello", tool_choice="subtract")
    assert len(lyzr_emulator.requests) == 2


def test_no_tool_call_raises_when_asked(make_llm: LLMFactory) -> None:
    llm = make_llm("tool-caller")
    response = llm.chat_with_tools([ADD], user_msg="just talk", tool_choice="none")
    with pytest.raises(ValueError, match="expected at least one tool call"):
        llm.get_tool_calls_from_response(response)


@pytest.mark.parametrize("mode", ["chat", "stream"])
def test_unknown_tool_raises(make_llm: LLMFactory, mode: str) -> None:
    llm = make_llm("tool-caller-unknown")
    with pytest.raises(UnknownToolError, match="not_a_bound_tool"):
        if mode == "chat":
            llm.chat_with_tools([ADD], user_msg="add(1, 2)")
        else:
            list(llm.stream_chat_with_tools([ADD], user_msg="add(1, 2)"))


def test_tool_errors_go_back_as_tool_messages(make_llm: LLMFactory) -> None:
    llm = make_llm("tool-caller")
    history = [ChatMessage(role=MessageRole.USER, content="add(1, 2)")]
    first = llm.chat_with_tools([ADD], chat_history=history)
    call = llm.get_tool_calls_from_response(first)[0]
    error = ChatMessage(
        role=MessageRole.TOOL,
        content="Error: overflow",
        additional_kwargs={"tool_call_id": call.tool_id, "name": "add"},
    )
    answer = llm.chat_with_tools([ADD], chat_history=[*history, first.message, error])
    assert answer.message.content == "Using the tool results: add returned Error: overflow."


class Invoice(BaseModel):
    """An invoice."""

    customer: str
    total: float


def test_structured_predict(make_llm: LLMFactory) -> None:
    from llama_index.core.prompts import PromptTemplate

    llm = make_llm("tool-caller")
    invoice = llm.structured_predict(
        Invoice, PromptTemplate("Make an invoice for '{name}'"), name="ACME"
    )
    assert invoice == Invoice(customer="ACME", total=1.5)


async def test_astructured_predict(make_llm: LLMFactory) -> None:
    from llama_index.core.prompts import PromptTemplate

    llm = make_llm("tool-caller")
    invoice = await llm.astructured_predict(
        Invoice, PromptTemplate("Make an invoice for '{name}'"), name="Initech"
    )
    assert invoice.customer == "Initech"


async def test_function_agent_streams_and_runs_a_local_tool(make_llm: LLMFactory) -> None:
    seen: list[tuple[int, int]] = []

    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        seen.append((a, b))
        return a * b

    agent = FunctionAgent(
        tools=[FunctionTool.from_defaults(multiply)],
        llm=make_llm("tool-caller", coalesce=False),  # one delta per token, however slow
        system_prompt="You are a calculator.",
    )
    handler = agent.run(user_msg="What is multiply(6, 7)?")
    deltas: list[str] = []
    results: list[ToolCallResult] = []
    async for event in handler.stream_events():
        if isinstance(event, AgentStream):
            deltas.append(event.delta)
        elif isinstance(event, ToolCallResult):
            results.append(event)
    response = await handler
    assert seen == [(6, 7)]
    assert [r.tool_output.content for r in results] == ["42"]
    assert str(response) == "Using the tool results: multiply returned 42."
    assert len([d for d in deltas if d]) > 3, "the answer was not streamed"


async def test_agent_workflow_with_a_local_tool(make_llm: LLMFactory) -> None:
    agent = FunctionAgent(
        name="weather",
        description="Knows the weather.",
        tools=[WEATHER],
        llm=make_llm("tool-caller"),
    )
    workflow = AgentWorkflow(agents=[agent], root_agent="weather")
    response = await workflow.run(user_msg="What is the weather in 'Rome'?")
    assert str(response) == "Using the tool results: get_weather returned sunny in Rome."
