"""The main demo: one answer streamed token by token through LangChain, one through LlamaIndex.

    make demo

Runs against the embedded emulator unless LYZR_API_KEY and LYZR_AGENT_ID are set.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM


def main() -> None:
    target = connect("demo")
    where = "the embedded emulator" if target.emulated else "the Lyzr service"
    print(f"Streaming from agent {target.agent_id!r} on {where}.\n")

    chat = ChatLyzr(agent_id=target.agent_id, api_key=target.api_key, base_url=target.base_url)
    print("LangChain  ChatLyzr.stream()")
    print("> ", end="", flush=True)
    started = time.perf_counter()
    for chunk in chat.stream("Tell me what lyzr-stream does, in one paragraph."):
        print(chunk.text, end="", flush=True)
    print(f"\n  ({time.perf_counter() - started:.2f}s)\n")

    llm = LyzrLLM(agent_id=target.agent_id, api_key=target.api_key, base_url=target.base_url)
    print("LlamaIndex LyzrLLM.stream_complete()")
    print("> ", end="", flush=True)
    started = time.perf_counter()
    for response in llm.stream_complete("And how does it stream?"):
        print(response.delta or "", end="", flush=True)
    print(f"\n  ({time.perf_counter() - started:.2f}s)")

    if target.emulated:
        # Another wire format, same classes: the chat-messages dialect, whose agent runs tools
        # on the server (reported as activity, never as calls for this process to run).
        print("\nLlamaIndex LyzrLLM(dialect='chat-messages').stream_complete()")
        other = LyzrLLM(
            agent_id="tools",
            dialect="chat-messages",
            api_key=target.api_key,
            base_url=target.base_url,
        )
        print("> ", end="", flush=True)
        for response in other.stream_complete("lyzr-stream"):
            activity = response.additional_kwargs.get("tool_activity")
            if activity and isinstance(activity, dict):
                print(f"[server tool {activity['name']}: {activity['phase']}] ", end="")
            print(response.delta or "", end="", flush=True)
        print()


if __name__ == "__main__":
    main()
