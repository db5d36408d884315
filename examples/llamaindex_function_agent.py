"""A LlamaIndex ``FunctionAgent`` running a local ``FunctionTool`` through LyzrLLM, streamed.

python examples/llamaindex_function_agent.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect
from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCallResult
from llama_index.core.tools import FunctionTool

from llamaindex_lyzr_stream import LyzrLLM


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


async def run() -> str:
    target = connect("tool-caller")
    llm = LyzrLLM(agent_id=target.agent_id, api_key=target.api_key, base_url=target.base_url)
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(multiply)], llm=llm)
    handler = agent.run(user_msg="What is multiply(6, 7)?")
    async for event in handler.stream_events():
        if isinstance(event, ToolCallResult):
            print(f"[tool {event.tool_name}({event.tool_kwargs}) returned {event.tool_output}]")
        elif isinstance(event, AgentStream):
            print(event.delta, end="", flush=True)
    response = await handler
    print()
    return str(response)


def main() -> str:
    return asyncio.run(run())


if __name__ == "__main__":
    main()
