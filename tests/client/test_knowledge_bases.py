"""Knowledge bases over real sockets: ``LyzrClient.retrieve`` / ``aretrieve`` /
``list_documents`` on ``rag_base_url`` (the emulator serves the rag host's routes too), and the
per-run ``KNOWLEDGE_BASE`` feature in an agent call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from lyzr_stream import (
    AgentRequest,
    AuthenticationError,
    InternalServerError,
    InvalidRequestError,
    LyzrClient,
    NotFoundError,
    RetrievedChunk,
    knowledge_base_feature,
)
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.knowledge import EMPTY_KB, HANDBOOK_KB
from tests.conftest import FAKE_KEY

WEEKENDS = "when does the cafe open on weekends"


def kb_client(em: Emulator, **kw: object) -> LyzrClient:
    return LyzrClient(api_key=em.api_key, base_url=em.base_url, rag_base_url=em.base_url, **kw)  # type: ignore[arg-type]


@pytest.fixture
def client(lyzr_emulator: Emulator) -> Iterator[LyzrClient]:
    with kb_client(lyzr_emulator) as c:
        yield c


def _retrievals(em: Emulator) -> list[dict[str, list[str]]]:
    """The query parameters of each retrieval request the emulator received."""
    return [parse_qs(r.query) for r in em.requests if r.path.endswith("/retrieve/")]


def test_retrieve_sends_the_parameters_and_reads_the_chunks(
    client: LyzrClient, lyzr_emulator: Emulator
) -> None:
    chunks = client.retrieve(
        HANDBOOK_KB, WEEKENDS, top_k=2, retrieval_type="mmr", score_threshold=0.1
    )
    assert [c.id for c in chunks] == ["kb-handbook-1", "kb-handbook-0"]
    best = chunks[0]
    assert isinstance(best, RetrievedChunk)
    assert best.text == "On weekends Lyzr Cafe opens at 10 am and closes at 4 pm."
    assert (best.source, best.page, best.chunk_index) == ("hours.pdf", 2, 1)
    assert best.metadata == {"section": "hours", "language": "en"}
    assert best.score > chunks[1].score > 0
    [sent] = lyzr_emulator.requests
    assert (sent.method, sent.path) == ("GET", "/v3/rag/kb-handbook/retrieve/")
    assert sent.headers["x-api-key"] == lyzr_emulator.api_key
    assert parse_qs(sent.query) == {
        "query": [WEEKENDS],
        "top_k": ["2"],
        "retrieval_type": ["mmr"],
        "score_threshold": ["0.1"],
    }


def test_aretrieve_is_the_same_call(client: LyzrClient, lyzr_emulator: Emulator) -> None:
    sync = client.retrieve(HANDBOOK_KB, "refunds receipt")

    async def main() -> list[RetrievedChunk]:
        try:
            return await client.aretrieve(HANDBOOK_KB, "refunds receipt")
        finally:
            await client.aclose()

    assert asyncio.run(main()) == sync
    assert sync[0].source == "policies.pdf"
    assert _retrievals(lyzr_emulator) == [{"query": ["refunds receipt"]}] * 2


def test_top_k_and_threshold_are_honoured(client: LyzrClient) -> None:
    # As a vector search does, the nearest passages come back whatever the query: all five,
    # the three that share words with it first.
    everything = client.retrieve(HANDBOOK_KB, "Lyzr Cafe opens", top_k=10)
    assert len(everything) == 5
    assert [c.score > 0 for c in everything] == [True, True, True, False, False]
    assert [c.score for c in everything] == sorted((c.score for c in everything), reverse=True)
    assert len(client.retrieve(HANDBOOK_KB, "Lyzr Cafe opens", top_k=1)) == 1
    strict = client.retrieve(HANDBOOK_KB, "Lyzr Cafe opens weekends", score_threshold=0.9)
    assert [c.id for c in strict] == ["kb-handbook-1"]
    assert all(c.score >= 0.9 for c in strict)


def test_empty_base_unknown_base_and_documents(client: LyzrClient) -> None:
    assert client.retrieve(EMPTY_KB, "anything") == []
    with pytest.raises(NotFoundError, match="knowledge base"):
        client.retrieve("no-such-kb", "anything")
    assert client.list_documents(HANDBOOK_KB) == [
        "hours.pdf",
        "policies.pdf",
        "loyalty.docx",
        "about.md",
    ]
    assert client.list_documents(EMPTY_KB) == []
    assert asyncio.run(client.alist_documents(EMPTY_KB)) == []
    with pytest.raises(NotFoundError):
        client.list_documents("no-such-kb")


def test_a_test_can_add_a_knowledge_base(lyzr_emulator: Emulator, client: LyzrClient) -> None:
    lyzr_emulator.add_knowledge_base(
        "kb odd&id", ["Penguins live in Antarctica.", {"text": "Owls hunt at night."}]
    )
    chunk, other = client.retrieve("kb odd&id", "where do penguins live")
    assert other.score < chunk.score
    assert (chunk.text, chunk.id, chunk.chunk_index) == (
        "Penguins live in Antarctica.", "kb odd&id-0", 0
    )
    # Sent percent-encoded (the & did not start a query parameter), read back decoded.
    assert lyzr_emulator.requests[-1].path == "/v3/rag/kb odd&id/retrieve/"
    assert parse_qs(lyzr_emulator.requests[-1].query) == {"query": ["where do penguins live"]}
    lyzr_emulator.reset()
    with pytest.raises(NotFoundError):
        client.retrieve("kb odd&id", "penguins")
    assert client.retrieve(HANDBOOK_KB, "refunds")  # the built-in ones stay


def test_a_transient_failure_is_retried(lyzr_emulator: Emulator) -> None:
    flaky = {"x-emulator-fault": "fail-first:2:503"}
    with kb_client(lyzr_emulator, default_headers=flaky) as client:
        assert client.retrieve(HANDBOOK_KB, "refunds")
        assert len(_retrievals(lyzr_emulator)) == 3
        lyzr_emulator.reset()  # the fault counts from zero again
        with pytest.raises(InternalServerError):
            client.retrieve(HANDBOOK_KB, "refunds", max_retries=1)
        assert len(_retrievals(lyzr_emulator)) == 2


@pytest.mark.parametrize(
    ("args", "kwargs", "named"),
    [
        (("", "q"), {}, "rag_id"),
        (("kb", " "), {}, "query"),
        (("kb", "q"), {"top_k": 0}, "top_k"),
        (("kb", "q"), {"top_k": False}, "top_k"),
        (("kb", "q"), {"score_threshold": -0.1}, "score_threshold"),
        (("kb", "q"), {"score_threshold": float("inf")}, "score_threshold"),
        (("kb", "q"), {"retrieval_type": ""}, "retrieval_type"),
        ((".", "q"), {}, "rag_id"),
    ],
)
def test_bad_input_is_refused_before_sending(
    client: LyzrClient,
    lyzr_emulator: Emulator,
    args: tuple[str, str],
    kwargs: dict[str, object],
    named: str,
) -> None:
    with pytest.raises(InvalidRequestError, match=named):
        client.retrieve(*args, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match=named):
        asyncio.run(client.aretrieve(*args, **kwargs))  # type: ignore[arg-type]
    assert lyzr_emulator.requests == []


def test_requests_go_to_rag_base_url_not_base_url(lyzr_emulator: Emulator) -> None:
    with LyzrClient(
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.refusing_url,  # nothing listens there
        rag_base_url=lyzr_emulator.base_url + "/",
    ) as client:
        assert client.settings.rag_base_url == lyzr_emulator.base_url
        assert client.retrieve(HANDBOOK_KB, "refunds")


def test_rag_base_url_from_the_environment(
    lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LYZR_RAG_URL", raising=False)
    with LyzrClient(api_key=FAKE_KEY) as default:
        assert default.settings.rag_base_url == "https://rag-prod.studio.lyzr.ai"
    monkeypatch.setenv("LYZR_RAG_URL", lyzr_emulator.base_url)
    with LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.refusing_url) as client:
        assert client.retrieve(HANDBOOK_KB, "refunds")[0].source == "policies.pdf"
    # The argument wins over the environment.
    with LyzrClient(api_key=FAKE_KEY, rag_base_url="https://kb.example.com") as given:
        assert given.settings.rag_base_url == "https://kb.example.com"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://kb.example.com", "plain http"),
        ("ftp://kb.example.com", "http:// or https://"),
        ("https://kb.example.com/?token=abc", "query or fragment"),
    ],
)
def test_rag_base_url_is_checked_like_base_url(url: str, message: str | None) -> None:
    with pytest.raises(InvalidRequestError, match="rag_base_url") as caught:
        LyzrClient(api_key=FAKE_KEY, rag_base_url=url)
    if message is not None:
        assert message in str(caught.value)
    assert FAKE_KEY not in str(caught.value)
    # Plain http to a non-loopback host is allowed when asked for.
    LyzrClient(api_key=FAKE_KEY, rag_base_url="http://kb.example.com", allow_insecure_http=True)


def test_rag_base_url_carrying_the_key_is_refused_without_showing_it() -> None:
    with pytest.raises(InvalidRequestError, match="rag_base_url contains the API key") as caught:
        LyzrClient(api_key=FAKE_KEY, rag_base_url=f"https://kb.example.com/{FAKE_KEY}")
    assert FAKE_KEY not in str(caught.value)


def test_secrets_never_in_repr_or_errors(keyed_emulator: Emulator) -> None:
    with LyzrClient(
        api_key=FAKE_KEY, base_url=keyed_emulator.base_url, rag_base_url=keyed_emulator.base_url
    ) as client:
        assert FAKE_KEY not in repr(client) and FAKE_KEY not in repr(client.settings)
        with pytest.raises(NotFoundError) as caught:
            client.retrieve("no-such-kb", f"echo {FAKE_KEY}")
        assert FAKE_KEY not in str(caught.value) and FAKE_KEY not in repr(caught.value.args)
    with LyzrClient(
        api_key="sk-wrong-key-123456", base_url=keyed_emulator.base_url,
        rag_base_url=keyed_emulator.base_url,
    ) as bad:
        with pytest.raises(AuthenticationError) as refused:
            bad.retrieve(HANDBOOK_KB, "refunds")
        assert "sk-wrong-key-123456" not in str(refused.value)


def test_other_dialects_have_no_knowledge_bases(lyzr_emulator: Emulator) -> None:
    with LyzrClient(
        api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, dialect="lyzr-v2",
        rag_base_url=lyzr_emulator.base_url,
    ) as client:
        with pytest.raises(InvalidRequestError, match="knowledge bases"):
            client.retrieve(HANDBOOK_KB, "refunds")
    assert lyzr_emulator.requests == []


# -- the per-run feature -------------------------------------------------------------------------
def test_the_feature_reaches_the_request_body_and_the_agent_uses_it(
    client: LyzrClient, lyzr_emulator: Emulator
) -> None:
    feature = knowledge_base_feature(HANDBOOK_KB, top_k=3)
    request = AgentRequest(
        agent_id="kb-answer", message="what about refunds?", features=(feature,)
    )
    answer = client.chat(request)
    assert answer.text.startswith("Refunds are accepted within 30 days")
    assert "(source: policies.pdf)" in answer.text
    [sent] = lyzr_emulator.requests
    assert sent.path == "/v3/inference/chat/"
    assert sent.json["features"] == [feature]
    streamed = "".join(
        e.text for e in client.stream(request) if hasattr(e, "text") and isinstance(e.text, str)
    )
    assert "Refunds are accepted" in streamed
    plain = client.chat(AgentRequest(agent_id="kb-answer", message="refunds?"))
    assert plain.text == "No knowledge base is attached to this run."


def test_a_plain_http_rag_base_url_is_not_sent_through_a_remote_proxy() -> None:
    # As for base_url: over plain http the proxy would read the key.
    with pytest.raises(InvalidRequestError, match=r"through the proxy at proxy\.example\.com"):
        LyzrClient(
            api_key=FAKE_KEY,
            rag_base_url="http://127.0.0.1:9",
            proxy="http://proxy.example.com:8080",
        )
