"""``LyzrRetriever`` (LangChain) over real sockets: documents, options, metadata, secrets,
closing and pickling."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from langchain_core.documents import Document
from langchain_core.load import dumpd, dumps
from pydantic import SecretStr, ValidationError

from langchain_lyzr_stream import LyzrRetriever
from lyzr_stream import AuthenticationError, InvalidRequestError, NotFoundError
from lyzr_stream.emulator import Emulator
from tests.conftest import FAKE_KEY


def retriever(em: Emulator, **kw: object) -> LyzrRetriever:
    kw.setdefault("rag_id", "kb-handbook")
    kw.setdefault("api_key", em.api_key)
    return LyzrRetriever(rag_base_url=em.base_url, **kw)


def _queries(em: Emulator) -> list[dict[str, list[str]]]:
    return [parse_qs(r.query) for r in em.requests if r.path.endswith("/retrieve/")]


def test_invoke_returns_documents_with_the_passage_metadata(lyzr_emulator: Emulator) -> None:
    with retriever(lyzr_emulator, top_k=2, retrieval_type="mmr", score_threshold=0.2) as kb:
        docs = kb.invoke("when does the cafe open on weekends")
    assert [d.page_content for d in docs] == [
        "On weekends Lyzr Cafe opens at 10 am and closes at 4 pm.",
        "Lyzr Cafe opens at 8 am and closes at 6 pm on weekdays.",
    ]
    first = docs[0]
    assert isinstance(first, Document) and first.id == "kb-handbook-1"
    assert first.metadata == {
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
            "retrieval_type": ["mmr"],
            "score_threshold": ["0.2"],
        }
    ]


def test_retrieval_fields_win_over_stored_metadata(lyzr_emulator: Emulator) -> None:
    lyzr_emulator.add_knowledge_base(
        "kb-clash",
        [
            {
                "text": "Otters hold hands.",
                "source": "otters.md",
                "metadata": {"score": "stored", "source": "stored", "author": "Ada"},
            }
        ],
    )
    with retriever(lyzr_emulator, rag_id="kb-clash") as kb:
        [doc] = kb.invoke("otters")
    assert doc.metadata["score"] == 1.0 and doc.metadata["source"] == "otters.md"
    assert doc.metadata["author"] == "Ada"
    assert "page" not in doc.metadata  # the service gave none: not invented


def test_ainvoke_and_per_call_options(lyzr_emulator: Emulator) -> None:
    kb = retriever(lyzr_emulator, top_k=5)

    async def main() -> list[Document]:
        try:
            return await kb.ainvoke("Lyzr Cafe opens", top_k=1)
        finally:
            await kb.aclose()

    [doc] = asyncio.run(main())
    assert doc.metadata["source"] == "hours.pdf"
    assert _queries(lyzr_emulator)[-1]["top_k"] == ["1"]
    with pytest.raises(InvalidRequestError, match="closed"):
        kb.invoke("again")


def test_empty_unknown_and_bad_call_options(lyzr_emulator: Emulator) -> None:
    with retriever(lyzr_emulator, rag_id="kb-empty") as empty:
        assert empty.invoke("anything") == []
    with retriever(lyzr_emulator, rag_id="no-such-kb") as unknown:
        with pytest.raises(NotFoundError):
            unknown.invoke("anything")
    with retriever(lyzr_emulator) as kb:
        with pytest.raises(InvalidRequestError, match="top_k"):
            kb.invoke("q", top_k=0)
        with pytest.raises(InvalidRequestError, match=r"\['k'\]"):
            kb.invoke("q", k=2)
        with pytest.raises(InvalidRequestError, match="query"):
            kb.invoke(" ")
    assert _queries(lyzr_emulator) == [{"query": ["anything"]}] * 2


@pytest.mark.parametrize(
    ("kwargs", "error", "named"),
    [
        ({"rag_id": ""}, InvalidRequestError, "rag_id"),
        ({"top_k": 0}, InvalidRequestError, "top_k"),
        ({"top_k": True}, ValidationError, "top_k"),
        ({"score_threshold": 1.5}, InvalidRequestError, "score_threshold"),
        ({"retrieval_type": ""}, InvalidRequestError, "retrieval_type"),
        ({"rag_base_url": "http://kb.example.com"}, InvalidRequestError, "rag_base_url"),
    ],
)
def test_bad_construction_is_refused(
    kwargs: dict[str, object], error: type[Exception], named: str
) -> None:
    with pytest.raises(error, match=named):
        LyzrRetriever(**{"rag_id": "kb", "api_key": FAKE_KEY, **kwargs})


def test_the_key_is_never_shown_dumped_or_pickled(
    lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = retriever(lyzr_emulator, api_key=FAKE_KEY, default_headers={"x-proxy": "hdr-secret-77"})
    assert isinstance(kb.api_key, SecretStr)
    for shown in (repr(kb), str(kb), dumps(kb), str(dumpd(kb)), str(kb.model_dump())):
        assert FAKE_KEY not in shown and "hdr-secret-77" not in shown
    data = pickle.dumps(kb)
    assert FAKE_KEY.encode() not in data and b"hdr-secret-77" not in data
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    clone = pickle.loads(data)
    assert clone.api_key.get_secret_value() == lyzr_emulator.api_key
    assert clone.invoke("refunds")[0].metadata["source"] == "policies.pdf"
    kb.close()
    clone.close()


def test_errors_do_not_show_the_key(keyed_emulator_kb: Emulator) -> None:
    with LyzrRetriever(
        rag_id="no-such-kb", api_key=FAKE_KEY, rag_base_url=keyed_emulator_kb.base_url
    ) as kb:
        with pytest.raises(NotFoundError) as caught:
            kb.invoke(f"what is {FAKE_KEY}")
        assert FAKE_KEY not in str(caught.value)
    with LyzrRetriever(
        rag_id="kb-handbook", api_key="sk-wrong-0042", rag_base_url=keyed_emulator_kb.base_url
    ) as wrong:
        with pytest.raises(AuthenticationError) as refused:
            wrong.invoke("refunds")
        assert "sk-wrong-0042" not in str(refused.value)


@pytest.fixture(scope="module")
def keyed_emulator_kb() -> Iterator[Emulator]:
    with Emulator(api_key=FAKE_KEY) as em:
        yield em


def test_rag_base_url_from_the_environment(
    lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYZR_RAG_URL", lyzr_emulator.base_url)
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    with LyzrRetriever(rag_id="kb-handbook", timeout=5, max_retries=0) as kb:
        assert kb.client.settings.rag_base_url == lyzr_emulator.base_url
        assert kb.client.settings.retry.max_retries == 0
        assert kb.invoke("loyalty card")[0].metadata["source"] == "loyalty.docx"


def test_chat_lyzr_attaches_a_knowledge_base_to_the_run(lyzr_emulator: Emulator) -> None:
    from langchain_lyzr_stream import ChatLyzr
    from lyzr_stream import knowledge_base_feature

    feature = knowledge_base_feature("kb-handbook", top_k=2)
    with ChatLyzr(
        agent_id="kb-answer",
        api_key=SecretStr(lyzr_emulator.api_key),
        base_url=lyzr_emulator.base_url,
        features=[feature],
    ) as model:
        answer = model.invoke("Is there a loyalty card?")
    assert answer.content == (
        "The loyalty card gives a free coffee after nine paid coffees. (source: loyalty.docx)"
    )
    [sent] = [r for r in lyzr_emulator.requests if r.path.endswith("/chat/")]
    assert sent.json["features"] == [feature]
