"""A LlamaIndex RAG query engine over local documents, its answer streamed from LyzrLLM.

``MockEmbedding`` keeps it offline; use a real embedding model for real retrieval.

    python examples/llamaindex_rag.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding

from llamaindex_lyzr_stream import LyzrLLM

DOCUMENTS = [
    Document(text="Lyzr agents keep conversation memory per session on the server."),
    Document(
        text="lyzr-stream streams agent answers token by token into LangChain and LlamaIndex."
    ),
    Document(text="The embedded emulator serves scripted agents on a loopback port."),
]


def main() -> str:
    target = connect("echo")
    llm = LyzrLLM(agent_id=target.agent_id, api_key=target.api_key, base_url=target.base_url)
    index = VectorStoreIndex.from_documents(DOCUMENTS, embed_model=MockEmbedding(embed_dim=8))
    engine = index.as_query_engine(llm=llm, streaming=True, similarity_top_k=2)
    response = engine.query("Where is conversation memory kept?")
    parts = []
    for text in response.response_gen:  # type: ignore[union-attr]
        print(text, end="", flush=True)
        parts.append(text)
    print()
    return "".join(parts)


if __name__ == "__main__":
    main()
