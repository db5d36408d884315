"""A LangGraph app streaming what a Lyzr agent does on the server: tool calls, results, progress.

``agent_events=True`` opens the agent's events channel for each answer: the tools the agent runs
on the server (web search, knowledge base, sub-agents) reach LangChain as custom events
(``lyzr_tool_call``, ``lyzr_tool_result``, ``lyzr_agent_event``), in order with the tokens, and
``astream_events`` hands them to the app as they happen.

    python examples/langgraph_agent_events.py
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect
from langgraph.graph import START, MessagesState, StateGraph

from langchain_lyzr_stream import ChatLyzr


def describe(name: str, data: dict[str, Any]) -> str:
    """One line per custom event of the agent's run."""
    if name == "lyzr_tool_call":
        return f"[tool call] {data['name']}({json.dumps(data['arguments'], default=str)})"
    if name == "lyzr_tool_result":
        return f"[tool result] {data['name']} -> {json.dumps(data['result'], default=str)[:80]}"
    status = f" ({data['status']})" if data.get("status") else ""
    return f"[{data['type']}{status}] {data.get('message') or ''}".rstrip()


async def main() -> str:
    target = connect("server-tools-100")  # the emulated agent takes 100 ms per step
    events_url = None
    if target.emulated:
        from lyzr_stream.emulator.agent_events import events_url_of

        events_url = events_url_of(target.base_url or "")
    model = ChatLyzr(
        agent_id=target.agent_id,
        api_key=target.api_key,
        base_url=target.base_url,
        agent_events=True,
        events_url=events_url,
    )

    async def agent(state: MessagesState) -> dict[str, list[object]]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node("agent", agent).add_edge(START, "agent").compile()
    question = "lyzr-stream"
    print(f"you> {question}")
    answer: list[str] = []
    in_text = False  # the cursor is at the end of answer text
    async for event in graph.astream_events({"messages": [("user", question)]}, version="v2"):
        if event["event"] == "on_custom_event":
            print(("\n" if in_text else "") + describe(event["name"], event["data"]), flush=True)
            in_text = False
        elif event["event"] == "on_chat_model_stream" and event["data"]["chunk"].text:
            if not answer:
                print("agent> ", end="")
            answer.append(event["data"]["chunk"].text)
            print(answer[-1], end="", flush=True)
            in_text = True
    if in_text:
        print()
    return "".join(answer)


if __name__ == "__main__":
    asyncio.run(main())
