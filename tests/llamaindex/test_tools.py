"""LyzrLLM as a FunctionCallingLLM, against the emulator's tool-caller agents."""

from __future__ import annotations

import json
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

from lyzr_stream import InvalidRequestError
from lyzr_stream.emulator import Emulator
from tests.helpers.bodies import local_tools

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
    assert [t["name"] for t in local_tools(bodies[0])["tools"]] == ["add", "now"]
    # lyzr-adk's tool loop, field for field: messages instead of message, the assistant message
    # in the proxy form the server used, results named local_tool.
    assert "message" not in bodies[0] and "message" not in bodies[1]
    assert bodies[0]["messages"] == [{"role": "user", "content": "add(2, 3) and now()"}]
    sent = bodies[1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert sent[1]["tool_calls"] == [
        {
            "id": c.tool_id,
            "type": "function",
            "function": {
                "name": "local_tool",
                "arguments": json.dumps({"tool_name": c.tool_name, "arguments": c.tool_kwargs}),
            },
        }
        for c in calls
    ]
    assert sent[2:] == [
        {"role": "tool", "content": out, "name": "local_tool", "tool_call_id": c.tool_id}
        for out, c in zip(["5", "12:00"], calls, strict=True)
    ]


def test_a_session_sends_only_the_current_turns_loop(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("tool-caller", session_id="li-loop")
    system = ChatMessage(role=MessageRole.SYSTEM, content="You are a calculator.")
    turn1 = ChatMessage(role=MessageRole.USER, content="add(1, 2)")
    first = llm.chat_with_tools([ADD], chat_history=[system, turn1])
    answer1 = llm.chat_with_tools(
        [ADD], chat_history=[system, turn1, first.message, *_tool_results(llm, first)]
    )
    turn2 = ChatMessage(role=MessageRole.USER, content="add(3, 4)")
    transcript = [system, turn1, first.message, *_tool_results(llm, first), answer1.message]
    llm.chat_with_tools([ADD], chat_history=[*transcript, turn2])
    sent = lyzr_emulator.requests[-1].json["messages"]
    # The session's memory holds turn 1: only the system text and turn 2 go out.
    assert sent == [
        {"role": "system", "content": "You are a calculator."},
        {"role": "user", "content": "add(3, 4)"},
    ]


def test_without_a_session_the_tool_loop_resends_the_whole_transcript(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("tool-caller")
    turn1 = ChatMessage(role=MessageRole.USER, content="add(1, 2)")
    first = llm.chat_with_tools([ADD], chat_history=[turn1])
    results = _tool_results(llm, first)
    answer1 = llm.chat_with_tools([ADD], chat_history=[turn1, first.message, *results])
    turn2 = ChatMessage(role=MessageRole.USER, content="add(3, 4)")
    transcript = [turn1, first.message, *results, answer1.message, turn2]
    llm.chat_with_tools([ADD], chat_history=transcript)
    bodies = [r.json for r in lyzr_emulator.requests]
    assert len({b["session_id"] for b in bodies}) == 3  # a fresh session per call
    assert [m["role"] for m in bodies[-1]["messages"]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]


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
    assert local_tools(lyzr_emulator.requests[-1].json)["tool_choice"] == "any"
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
def test_an_unknown_tool_is_handed_to_the_agent(make_llm: LLMFactory, mode: str) -> None:
    # As LlamaIndex's OpenAI LLM does: the call comes back; FunctionAgent answers it itself.
    llm = make_llm("tool-caller-unknown")
    if mode == "chat":
        response = llm.chat_with_tools([ADD], user_msg="add(1, 2)")
    else:
        response = list(llm.stream_chat_with_tools([ADD], user_msg="add(1, 2)"))[-1]
    assert [c.tool_name for c in llm.get_tool_calls_from_response(response)] == [
        "not_a_bound_tool"
    ]


async def test_function_agent_answers_an_unknown_tool_itself(make_llm: LLMFactory) -> None:
    agent = FunctionAgent(tools=[ADD], llm=make_llm("tool-caller-unknown"))
    handler = agent.run(user_msg="add(1, 2)")
    results = [e async for e in handler.stream_events() if isinstance(e, ToolCallResult)]
    response = await handler
    assert results[0].tool_name == "not_a_bound_tool"
    assert results[0].tool_output.is_error
    assert "not_a_bound_tool not found" in str(response)


def test_tool_errors_go_back_as_tool_messages(make_llm: LLMFactory) -> None:
    llm = make_llm("tool-caller")
    history = [ChatMessage(role=MessageRole.USER, content="add(1, 2)")]
    first = llm.chat_with_tools([ADD], chat_history=history)
    call = llm.get_tool_calls_from_response(first)[0]
    error = ChatMessage(
        role=MessageRole.TOOL,
        content="overflow",
        additional_kwargs={"tool_call_id": call.tool_id, "is_error": True},
    )
    answer = llm.chat_with_tools([ADD], chat_history=[*history, first.message, error])
    assert answer.message.content == "Using the tool results: add returned Error: overflow."


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
