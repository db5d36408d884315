"""Tool rounds: build_model_call shapes each round of a local-tool loop as lyzr-adk does."""

from __future__ import annotations

import json
from typing import Any

from lyzr_stream import ChatMessage, LyzrClient, ToolCallRequest, ToolSpec
from lyzr_stream._adapters.conversation import build_model_call
from lyzr_stream.dialects._local_tools import tool_error_content
from lyzr_stream.emulator import Emulator

ADD = ToolSpec(
    name="add",
    description="Add two integers.",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
)


def _round(transcript: list[ChatMessage], session: str | None) -> Any:
    return build_model_call(
        transcript, agent_id="tool-caller", option_layers=({"session_id": session},), tools=[ADD]
    ).request


def _results(request: ToolCallRequest, fail: bool = False) -> list[ChatMessage]:
    out = []
    for call in request.calls:
        content = tool_error_content("overflow") if fail else str(sum(call.arguments.values()))
        out.append(ChatMessage(role="tool", content=content, tool_call_id=call.id))
    return out


def test_a_tool_loop_is_shaped_like_lyzr_adks(lyzr_emulator: Emulator, no_lyzr_env: None) -> None:
    client = LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url)
    user = ChatMessage(role="user", content="add(2, 3)")
    with client.stream(_round([user], "adk")) as stream:
        asked = next(e for e in stream if isinstance(e, ToolCallRequest))
    assistant = ChatMessage(role="assistant", content="", tool_calls=asked.raw_calls)
    transcript = [user, assistant, *_results(asked, fail=True)]
    answer = client.chat(_round(transcript, "adk"))
    assert answer.text == "Using the tool results: add returned Error: overflow."

    first, second = (r.json for r in lyzr_emulator.requests if r.path.startswith("/v3/"))
    feature = {
        "type": "local_tools",
        "config": {"tools": [ADD.to_wire()]},
        "priority": 0,
    }
    assert first == {
        "user_id": "default_user",
        "agent_id": "tool-caller",
        "session_id": "adk",
        "messages": [{"role": "user", "content": "add(2, 3)"}],
        "features": [feature],
    }
    [raw] = asked.raw_calls
    assert raw["function"]["name"] == "local_tool"
    assert json.loads(raw["function"]["arguments"]) == {
        "tool_name": "add",
        "arguments": {"a": 2, "b": 3},
    }
    assert second["messages"] == [
        {"role": "user", "content": "add(2, 3)"},
        {"role": "assistant", "content": "", "tool_calls": [dict(raw)]},  # as the server wrote it
        {
            "role": "tool",
            "content": "Error: overflow",
            "name": "local_tool",
            "tool_call_id": raw["id"],
        },
    ]
    assert "message" not in second and second["features"] == [feature]
    client.close()


async def test_a_tool_loop_async_with_a_direct_call(lyzr_emulator: Emulator) -> None:
    async with LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url) as c:
        user = ChatMessage(role="user", content="add(4, 5)")
        request = build_model_call(
            [user], agent_id="tool-caller-direct", option_layers=(), tools=[ADD]
        ).request
        first = await c.achat(request)
        asked = ToolCallRequest(first.tool_calls, raw_calls=first.raw_tool_calls)
        assistant = ChatMessage(role="assistant", content="", tool_calls=asked.raw_calls)
        transcript = [user, assistant, *_results(asked)]
        request = build_model_call(
            transcript, agent_id="tool-caller-direct", option_layers=(), tools=[ADD]
        ).request
        answer = await c.achat(request)
    assert answer.text == "Using the tool results: add returned 9."
    sent = lyzr_emulator.requests[-1].json["messages"][-1]
    assert sent["name"] == "add"  # a direct call's result keeps the real tool name
