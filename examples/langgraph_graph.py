"""A LangGraph graph whose node calls ChatLyzr; its tokens streamed with ``stream_mode="messages"``.

The graph's ``thread_id`` becomes the Lyzr session id, so the graph's thread and the agent's
server-side memory are one conversation.

    python examples/langgraph_graph.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect
from langchain_core.messages import AIMessageChunk
from langgraph.graph import START, MessagesState, StateGraph

from langchain_lyzr_stream import ChatLyzr


def main() -> list[str]:
    target = connect("memory")
    model = ChatLyzr(agent_id=target.agent_id, api_key=target.api_key, base_url=target.base_url)

    def agent(state: MessagesState) -> dict[str, list[object]]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState).add_node("agent", agent).add_edge(START, "agent").compile()
    config = {"configurable": {"thread_id": "example-thread"}}
    answers = []
    for question in ("My name is Ada.", "What did I say before?"):
        print(f"you> {question}\nagent> ", end="")
        parts = []
        for message, _meta in graph.stream(
            {"messages": [("user", question)]}, config, stream_mode="messages"
        ):
            if isinstance(message, AIMessageChunk) and message.text:
                print(message.text, end="", flush=True)
                parts.append(message.text)
        print()
        answers.append("".join(parts))
    return answers


if __name__ == "__main__":
    main()
