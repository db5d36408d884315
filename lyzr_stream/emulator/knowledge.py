"""Lyzr's knowledge-base routes (served by the same app: point ``rag_base_url`` at
``Emulator.base_url``), with scripted knowledge bases.

- ``GET /v3/rag/{rag_id}/retrieve/?query=...&top_k=...&retrieval_type=...&score_threshold=...``
  -> ``{"results": [{"text", "score", "source", "metadata", "id", "page", "chunk_index"}]}``;
- ``GET /v3/rag/documents/{rag_id}/`` -> ``{"documents": [names]}``.

Scoring is deterministic: a passage's score is the share of the query's words (lowercased,
without a few stop words) found in it, rounded to 4 places (0 with no word in common: as a
vector search does, the nearest passages come back whatever the query), sorted by score (then
by their order in the base), at most ``top_k`` (default 5) with a score at least
``score_threshold`` (default 0). An unknown base is a 404;
``query`` missing or a bad number a 422. The ``x-emulator-fault`` status, ``html`` and
``fail-first`` faults apply.

Built in: :data:`HANDBOOK_KB` (``kb-handbook``: a small cafe handbook) and :data:`EMPTY_KB`
(``kb-empty``). A test adds its own with ``Emulator.add_knowledge_base`` (forgotten by
``reset()``). The ``kb-answer`` agent answers from the built-in bases a request attaches with
a ``KNOWLEDGE_BASE`` feature (``lyzr_stream.knowledge_base_feature``).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .agents import AgentCall, Answer, agent, words
from .http import AppStore, keyed

__all__ = [
    "BUILTIN_KNOWLEDGE_BASES",
    "EMPTY_KB",
    "HANDBOOK_KB",
    "KnowledgeBases",
    "rank",
    "routes",
]

HANDBOOK_KB = "kb-handbook"
EMPTY_KB = "kb-empty"


def _handbook_chunk(index: int, text: str, source: str, page: int, section: str) -> dict[str, Any]:
    return {
        "id": f"{HANDBOOK_KB}-{index}",
        "text": text,
        "source": source,
        "page": page,
        "chunk_index": index,
        "metadata": {"section": section, "language": "en"},
    }


#: The built-in knowledge bases: rag id -> passages (each a retrieval result without score).
BUILTIN_KNOWLEDGE_BASES: Mapping[str, tuple[Mapping[str, Any], ...]] = {
    HANDBOOK_KB: (
        _handbook_chunk(
            0, "Lyzr Cafe opens at 8 am and closes at 6 pm on weekdays.", "hours.pdf", 1, "hours"
        ),
        _handbook_chunk(
            1, "On weekends Lyzr Cafe opens at 10 am and closes at 4 pm.", "hours.pdf", 2, "hours"
        ),
        _handbook_chunk(
            2,
            "Refunds are accepted within 30 days of purchase with a receipt.",
            "policies.pdf",
            1,
            "refunds",
        ),
        _handbook_chunk(
            3,
            "The loyalty card gives a free coffee after nine paid coffees.",
            "loyalty.docx",
            1,
            "loyalty",
        ),
        _handbook_chunk(
            4, "Lyzr Cafe was founded in 2019 in Bengaluru.", "about.md", 1, "history"
        ),
    ),
    EMPTY_KB: (),
}

_STOP_WORDS = frozenset(
    {"a", "an", "and", "are", "at", "do", "does", "for", "how", "in", "is", "it", "of", "on"}
    | {"or", "the", "to", "what", "when", "where", "which", "who"}
)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP_WORDS}


def rank(
    chunks: Sequence[Mapping[str, Any]],
    query: str,
    top_k: int = 5,
    score_threshold: float = 0.0,
) -> list[dict[str, Any]]:
    """The passages matching ``query``, scored and sorted (see the module's docstring)."""
    wanted = _words(query)
    scored: list[tuple[float, int, Mapping[str, Any]]] = []
    for index, chunk in enumerate(chunks):
        # Like a vector search, every passage has a score and the nearest ``top_k`` come back
        # whatever the query (conformance suite: a retrieve returns chunks); only a threshold
        # drops the far ones.
        common = wanted & _words(str(chunk.get("text", "")))
        score = round(len(common) / len(wanted), 4) if wanted else 0.0
        if score >= score_threshold:
            scored.append((score, index, chunk))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [{**chunk, "score": score} for score, _, chunk in scored[:top_k]]


class KnowledgeBases(AppStore, attribute="lyzr_knowledge"):
    """The knowledge bases tests added (``Emulator.add_knowledge_base``), per app."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bases: dict[str, tuple[Mapping[str, Any], ...]] = {}

    def add(self, rag_id: str, chunks: Sequence[Mapping[str, Any] | str]) -> None:
        passages: list[Mapping[str, Any]] = []
        for index, chunk in enumerate(chunks):
            entry: dict[str, Any] = {"text": chunk} if isinstance(chunk, str) else dict(chunk)
            entry.setdefault("id", f"{rag_id}-{index}")
            entry.setdefault("chunk_index", index)
            passages.append(entry)
        with self.lock:
            self.bases[rag_id] = tuple(passages)

    def get(self, rag_id: str) -> tuple[Mapping[str, Any], ...] | None:
        with self.lock:
            found = self.bases.get(rag_id)
        return found if found is not None else BUILTIN_KNOWLEDGE_BASES.get(rag_id)


def _unprocessable(name: str, message: str) -> Response:
    return JSONResponse(
        {"detail": [{"loc": ["query", name], "msg": message, "type": "value_error"}]},
        status_code=422,
    )


@keyed
async def retrieve(request: Request, body: Any) -> Response:
    params = request.query_params
    query = params.get("query")
    if not query:
        return _unprocessable("query", "Field required")
    top_k_text = params.get("top_k", "5")
    if not top_k_text.isdigit() or int(top_k_text) < 1:
        return _unprocessable("top_k", "Input should be a positive integer")
    try:
        threshold = float(params.get("score_threshold", "0"))
    except ValueError:
        threshold = math.nan
    if not 0 <= threshold <= 1:
        return _unprocessable("score_threshold", "Input should be a number from 0 to 1")
    chunks = KnowledgeBases.of(request.app).get(request.path_params["rag_id"])
    if chunks is None:
        return JSONResponse({"detail": "Knowledge base not found"}, status_code=404)
    return JSONResponse({"results": rank(chunks, query, int(top_k_text), threshold)})


@keyed
async def documents(request: Request, body: Any) -> Response:
    chunks = KnowledgeBases.of(request.app).get(request.path_params["rag_id"])
    if chunks is None:
        return JSONResponse({"detail": "Knowledge base not found"}, status_code=404)
    names = dict.fromkeys(str(c["source"]) for c in chunks if c.get("source"))
    return JSONResponse({"documents": list(names)})


routes = [
    Route("/v3/rag/{rag_id}/retrieve/", retrieve, methods=["GET"]),
    Route("/v3/rag/documents/{rag_id}/", documents, methods=["GET"]),
]


# -- an agent that uses the knowledge bases a run attaches -----------------------------------
def _attached(features: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    bases: list[Mapping[str, Any]] = []
    for feature in features:
        config = feature.get("config") if feature.get("type") == "KNOWLEDGE_BASE" else None
        agentic = config.get("agentic_rag") if isinstance(config, Mapping) else None
        if isinstance(agentic, list):
            bases.extend(b for b in agentic if isinstance(b, Mapping))
    return bases


@agent("kb-answer")
def _kb_answer(call: AgentCall) -> Answer:
    """Answers with the best passage of the built-in knowledge bases the request attaches."""
    bases = _attached(call.features)
    if not bases:
        return Answer(words("No knowledge base is attached to this run."))
    for base in bases:
        chunks = BUILTIN_KNOWLEDGE_BASES.get(str(base.get("rag_id")), ())
        top_k = base.get("top_k") if isinstance(base.get("top_k"), int) else 5
        found = rank(chunks, call.message, top_k or 5, float(base.get("score_threshold") or 0))
        if found:
            best = found[0]
            return Answer(words(f"{best['text']} (source: {best.get('source')})"))
    return Answer(words("The attached knowledge bases say nothing about that."))
