"""``LyzrRetriever`` (LlamaIndex) over real sockets: nodes with scores, options, secrets,
closing and pickling, and a query engine over it with ``LyzrLLM``."""

from __future__ import annotations

import asyncio
import pickle
from urllib.parse import parse_qs

import pytest
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeWithScore, TextNode

from llamaindex_lyzr_stream import LyzrLLM, LyzrRetriever
from lyzr_stream import InvalidRequestError, NotFoundError
from lyzr_stream.emulator import Emulator
from tests.conftest import FAKE_KEY


def retriever(em: Emulator, rag_id: str = "kb-handbook", **kw: object) -> LyzrRetriever:
    kw.setdefault("api_key", em.api_key)
    return LyzrRetriever(rag_id, rag_base_url=em.base_url, **kw)  # type: ignore[arg-type]


def _queries(em: Emulator) -> list[dict[str, list[str]]]:
    return [parse_qs(r.query) for r in em.requests if r.path.endswith("/retrieve/")]


def test_retrieve_returns_nodes_with_scores(lyzr_emulator: Emulator) -> None:
    with retriever(lyzr_emulator, top_k=2, retrieval_type="basic", score_threshold=0.3) as kb:
        found = kb.retrieve("when does the cafe open on weekends")
    assert [n.node.node_id for n in found] == ["kb-handbook-1", "kb-handbook-0"]
    best = found[0]
    assert isinstance(best, NodeWithScore) and isinstance(best.node, TextNode)
    assert best.node.text == "On weekends Lyzr Cafe opens at 10 am and closes at 4 pm."
    assert best.score == 0.6667
    assert best.node.metadata == {
        "section": "hours",
        "language": "en",
        "rag_id": "kb-handbook",
        "score": 0.6667,
        "source": "hours.pdf",
        "page": 2,
        "chunk_index": 1,
        "id": "kb-handbook-1",
    }
    assert _queries(lyzr_emulator) == [
        {
            "query": ["when does the cafe open on weekends"],
            "top_k": ["2"],
            "retrieval_type": ["basic"],
            "score_threshold": ["0.3"],
        }
    ]


def test_aretrieve_empty_and_unknown(lyzr_emulator: Emulator) -> None:
    kb = retriever(lyzr_emulator, top_k=1)
    empty = retriever(lyzr_emulator, "kb-empty")
    unknown = retriever(lyzr_emulator, "no-such-kb")

    async def main() -> list[NodeWithScore]:
        try:
            assert await empty.aretrieve("refunds") == []
            with pytest.raises(NotFoundError):
                await unknown.aretrieve("refunds")
            return await kb.aretrieve("refunds")
        finally:
            for each in (kb, empty, unknown):
                await each.aclose()

    [node] = asyncio.run(main())
    assert node.node.metadata["source"] == "policies.pdf"
    with pytest.raises(InvalidRequestError, match="LyzrRetriever is closed"):
        kb.retrieve("again")


def test_a_passage_without_id_gets_a_fresh_node_id(lyzr_emulator: Emulator) -> None:
    lyzr_emulator.add_knowledge_base("kb-anon", [{"text": "Otters hold hands.", "id": ""}])
    with retriever(lyzr_emulator, "kb-anon") as kb:
        [node] = kb.retrieve("otters")
    assert node.node.node_id and "id" not in node.node.metadata


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"top_k": 0}, "top_k"),
        ({"top_k": True}, "top_k"),
        ({"score_threshold": -1}, "score_threshold"),
        ({"retrieval_type": ""}, "retrieval_type"),
        ({"rag_base_url": "ftp://kb.example.com"}, "rag_base_url"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(InvalidRequestError, match=named):
        LyzrRetriever("kb", api_key=FAKE_KEY, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="rag_id"):
        LyzrRetriever("", api_key=FAKE_KEY)


def test_the_key_is_never_shown_or_pickled(
    lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = retriever(lyzr_emulator, api_key=FAKE_KEY, default_headers={"x-proxy": "hdr-secret-77"})
    assert FAKE_KEY not in repr(kb) and "hdr-secret-77" not in repr(kb)
    data = pickle.dumps(kb)
    assert FAKE_KEY.encode() not in data and b"hdr-secret-77" not in data
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    clone = pickle.loads(data)
    assert clone.retrieve("loyalty card")[0].node.metadata["source"] == "loyalty.docx"
    kb.close()
    clone.close()


def test_rag_base_url_from_the_environment(
    lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYZR_RAG_URL", lyzr_emulator.base_url)
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    with LyzrRetriever("kb-handbook", max_retries=0) as kb:
        assert kb.client.settings.rag_base_url == lyzr_emulator.base_url
        assert kb.retrieve("founded")[0].node.metadata["source"] == "about.md"


def test_a_query_engine_over_the_retriever_and_lyzr_llm(lyzr_emulator: Emulator) -> None:
    kb = retriever(lyzr_emulator, top_k=1)
    llm = LyzrLLM(agent_id="echo", api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url)
    engine = RetrieverQueryEngine.from_args(kb, llm=llm)
    answer = engine.query("what about refunds")
    # The echo agent repeats its prompt: the retrieved passage reached the LLM.
    assert "Refunds are accepted within 30 days" in str(answer)
    assert "source: policies.pdf" in str(answer)  # what the prompt shows of the metadata...
    assert "rag_id:" not in str(answer) and "score:" not in str(answer)  # ...and what not
    assert [n.node.metadata["source"] for n in answer.source_nodes] == ["policies.pdf"]
    kb.close()
    llm.close()
