"""A LangChain agent (``create_agent``) whose Lyzr agent calls a tool that runs in this process.

Against a real service, the agent must have the local-tools feature; the emulator's
``tool-caller`` agent asks for any bound tool it sees called in the message.

    python examples/langchain_agent_tool.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect
from langchain.agents import create_agent
from langchain_core.messages import AIMessageChunk, ToolMessage
from langchain_core.tools import tool

from langchain_lyzr_stream import ChatLyzr


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def main() -> str:
    target = connect("tool-caller")
    model = ChatLyzr(agent_id=target.agent_id, api_key=target.api_key, base_url=target.base_url)
    agent = create_agent(model, tools=[add])
    answer = []
    for message, _meta in agent.stream(
        {"messages": [("user", "What is add(19, 23)?")]}, stream_mode="messages"
    ):
        if isinstance(message, ToolMessage):
            print(f"[tool {message.name} returned {message.content}]")
        elif isinstance(message, AIMessageChunk) and message.text:
            print(message.text, end="", flush=True)
            answer.append(message.text)
    print()
    return "".join(answer)


if __name__ == "__main__":
    main()
