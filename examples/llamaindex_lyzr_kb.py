"""A LlamaIndex query engine over a Lyzr knowledge base: LyzrRetriever finds the passages,
LyzrLLM answers from them (``RetrieverQueryEngine``), streamed.

Offline it uses the embedded emulator (its ``kb-handbook`` knowledge base and its ``echo``
agent, which repeats the prompt). For the real service set ``LYZR_API_KEY``, ``LYZR_AGENT_ID``
and ``LYZR_RAG_ID`` (``LYZR_RAG_URL`` if the knowledge base is not on
``https://rag-prod.studio.lyzr.ai``).

    python examples/llamaindex_lyzr_kb.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect
from llama_index.core.query_engine import RetrieverQueryEngine

from llamaindex_lyzr_stream import LyzrLLM, LyzrRetriever

QUESTION = "How do refunds work?"


def main() -> str:
    target = connect("echo")
    if target.emulated:
        rag_id, rag_base_url = "kb-handbook", target.base_url  # the emulator serves both
    else:
        rag_id, rag_base_url = os.environ["LYZR_RAG_ID"], None
    retriever = LyzrRetriever(rag_id, top_k=2, api_key=target.api_key, rag_base_url=rag_base_url)
    llm = LyzrLLM(agent_id=target.agent_id, api_key=target.api_key, base_url=target.base_url)
    engine = RetrieverQueryEngine.from_args(retriever, llm=llm, streaming=True)
    response = engine.query(QUESTION)
    for found in response.source_nodes:
        print(f"retrieved {found.score:.2f} {found.node.metadata.get('source')}")
    parts = []
    for text in response.response_gen:  # type: ignore[union-attr]
        print(text, end="", flush=True)
        parts.append(text)
    print()
    retriever.close()
    llm.close()
    return "".join(parts)


if __name__ == "__main__":
    main()
