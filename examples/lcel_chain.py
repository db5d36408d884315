"""An LCEL chain (prompt | ChatLyzr | parser), streamed token by token.

python examples/lcel_chain.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from langchain_lyzr_stream import ChatLyzr


def main() -> str:
    target = connect("demo")
    model = ChatLyzr(agent_id=target.agent_id, api_key=target.api_key, base_url=target.base_url)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer in the voice of a {persona}."), ("user", "{question}")]
    )
    chain = prompt | model | StrOutputParser()
    parts = []
    for text in chain.stream({"persona": "librarian", "question": "What is lyzr-stream?"}):
        print(text, end="", flush=True)
        parts.append(text)
    print()
    return "".join(parts)


if __name__ == "__main__":
    main()
