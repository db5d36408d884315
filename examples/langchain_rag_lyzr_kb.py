"""A LangChain RAG chain over a Lyzr knowledge base: LyzrRetriever finds the passages, ChatLyzr
answers from them.

Offline it uses the embedded emulator (its ``kb-handbook`` knowledge base and its ``echo``
agent, which repeats the prompt: you see exactly what the agent was given). For the real service
set ``LYZR_API_KEY``, ``LYZR_AGENT_ID`` and ``LYZR_RAG_ID`` (the knowledge base's id in Lyzr
Studio; ``LYZR_RAG_URL`` if it is not on ``https://rag-prod.studio.lyzr.ai``).

    python examples/langchain_rag_lyzr_kb.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

from langchain_lyzr_stream import ChatLyzr, LyzrRetriever

QUESTION = "When does the cafe open on weekends?"


def _context(docs: list[Document]) -> str:
    return "\n".join(f"- {d.page_content} [{d.metadata.get('source', '?')}]" for d in docs)


def main() -> str:
    target = connect("echo")
    if target.emulated:
        rag_id, rag_base_url = "kb-handbook", target.base_url  # the emulator serves both
    else:
        rag_id, rag_base_url = os.environ["LYZR_RAG_ID"], None
    retriever = LyzrRetriever(
        rag_id=rag_id, top_k=2, api_key=target.api_key, rag_base_url=rag_base_url
    )
    model = ChatLyzr(agent_id=target.agent_id, api_key=target.api_key, base_url=target.base_url)
    prompt = ChatPromptTemplate.from_messages(
        [("user", "Answer from this context only.\n{context}\n\nQuestion: {question}")]
    )
    chain = (
        {"context": retriever | _context, "question": RunnablePassthrough()}
        | prompt
        | model
        | StrOutputParser()
    )
    for doc in retriever.invoke(QUESTION):
        print(f"retrieved {doc.metadata['score']:.2f} {doc.metadata.get('source')}")
    parts = []
    for text in chain.stream(QUESTION):
        print(text, end="", flush=True)
        parts.append(text)
    print()
    retriever.close()
    model.close()
    return "".join(parts)


if __name__ == "__main__":
    main()
