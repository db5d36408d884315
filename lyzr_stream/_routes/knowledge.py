"""Lyzr knowledge bases, sans-I/O: the retrieval route, the documents list, and the per-run
``KNOWLEDGE_BASE`` feature.

Routes (docs/wire.md, "Files, sessions and tasks"), on the knowledge-base host
(``rag_base_url``, ``https://rag-prod.studio.lyzr.ai``) with the same ``x-api-key``:

- ``GET /v3/rag/{rag_id}/retrieve/?query=...&top_k=...&retrieval_type=...&score_threshold=...``
  -> ``{"results": [{"text", "score", "source"?, "metadata"?, "id"?, "page"?,
  "chunk_index"?}]}`` (a bare list is read as well);
- ``GET /v3/rag/documents/{rag_id}/``: the names of the base's documents.

Every argument is checked here, before anything is sent: an
:class:`~lyzr_stream.InvalidRequestError` names the one that is wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .._errors import APIResponseValidationError, InvalidRequestError, excerpt
from ..dialects._base import encode_path_segment
from .route import KNOWLEDGE_BASES, Route, answer_json, answer_list, optional_str

__all__ = [
    "RetrievedChunk",
    "check_retrieval",
    "documents_route",
    "knowledge_base_feature",
    "parse_documents",
    "parse_retrieval",
    "retrieve_path",
    "retrieve_route",
]


@dataclass(frozen=True, slots=True)
class RetrievedChunk:
    """One passage a knowledge base returned for a query, most relevant first.

    ``score`` is the service's relevance in ``[0, 1]``; ``source`` the document it came from;
    ``metadata`` what the service stored with it; ``raw`` the entry as received.
    """

    text: str
    score: float
    source: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    page: int | None = None
    chunk_index: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


# -- the checks --------------------------------------------------------------------------------
def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _check_top_k(top_k: object) -> int | None:
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InvalidRequestError(f"top_k must be a positive integer, got {top_k!r}")
    return top_k


def _check_fraction(name: str, value: object, *, required: bool = False) -> float | None:
    """A number from 0 to 1 (``None``: not given, unless ``required``)."""
    if value is None and not required:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise InvalidRequestError(f"{name} must be a number from 0 to 1, got {value!r}")
    return float(value)


def check_retrieval(
    rag_id: object,
    query: object | None = None,
    *,
    top_k: object = None,
    retrieval_type: object = None,
    score_threshold: object = None,
) -> None:
    """The one check of retrieval arguments (the route, the feature and the framework
    retrievers use it): ``InvalidRequestError`` naming the argument."""
    _check_text("rag_id", rag_id)
    if query is not None:
        _check_text("query", query)
    _check_top_k(top_k)
    if retrieval_type is not None:
        _check_text("retrieval_type", retrieval_type)
    _check_fraction("score_threshold", score_threshold)


# -- the retrieval route -----------------------------------------------------------------------
def retrieve_path(
    rag_id: str,
    query: str,
    *,
    top_k: int | None = None,
    retrieval_type: str | None = None,
    score_threshold: float | None = None,
) -> str:
    """The retrieval route's path and query string, every value URL-encoded."""
    _check_text("query", query)  # required here (check_retrieval takes None as no query)
    check_retrieval(
        rag_id, query, top_k=top_k, retrieval_type=retrieval_type, score_threshold=score_threshold
    )
    params: list[tuple[str, str]] = [("query", query)]
    if top_k is not None:
        params.append(("top_k", str(top_k)))
    if retrieval_type is not None:
        params.append(("retrieval_type", retrieval_type))
    if score_threshold is not None:
        params.append(("score_threshold", repr(float(score_threshold))))
    try:
        encoded = urlencode(params)
    except UnicodeEncodeError:
        raise InvalidRequestError(
            "the query holds text that is not valid Unicode (a lone surrogate)"
        ) from None
    return f"/v3/rag/{encode_path_segment(rag_id, 'rag_id')}/retrieve/?{encoded}"


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    score = float(value)
    return score if math.isfinite(score) else None


def _chunk(entry: Any) -> RetrievedChunk:
    text = entry.get("text") if isinstance(entry, dict) else None
    score = _score(entry.get("score")) if isinstance(entry, dict) else None
    if not isinstance(text, str) or score is None:
        raise APIResponseValidationError(
            "a retrieval result has no text or no numeric score",
            body_excerpt=excerpt(json.dumps(entry, default=str)),
        )
    metadata = entry.get("metadata")
    chunk_id = entry.get("id")
    return RetrievedChunk(
        text=text,
        score=score,
        source=optional_str(entry.get("source")),
        metadata=metadata if isinstance(metadata, dict) else {},
        id=str(chunk_id) if isinstance(chunk_id, (str, int)) and chunk_id != "" else None,
        page=_optional_int(entry.get("page")),
        chunk_index=_optional_int(entry.get("chunk_index")),
        raw=entry,
    )


def parse_retrieval(body: bytes) -> list[RetrievedChunk]:
    """A retrieval answer: ``{"results": [...]}`` or a bare list (an empty body: no chunks).
    Anything else, or an entry without text and a numeric score, is an
    :class:`~lyzr_stream.APIResponseValidationError`."""
    return [_chunk(entry) for entry in answer_list(body, "results", "retrieval")]


def retrieve_route(
    rag_id: str,
    query: str,
    *,
    top_k: int | None = None,
    retrieval_type: str | None = None,
    score_threshold: float | None = None,
) -> Route[list[RetrievedChunk]]:
    """``GET`` the passages of knowledge base ``rag_id`` most relevant to ``query``."""
    path = retrieve_path(
        rag_id, query, top_k=top_k, retrieval_type=retrieval_type, score_threshold=score_threshold
    )
    return Route.get(KNOWLEDGE_BASES, path, parse_retrieval)


# -- the documents list ------------------------------------------------------------------------
def _document_name(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry or None
    if isinstance(entry, dict):
        for key in ("name", "source", "document_name", "file_name", "id"):
            if isinstance(entry.get(key), str) and entry[key]:
                return str(entry[key])
    return None


def parse_documents(body: bytes) -> list[str]:
    """A documents answer: a list of names (or of objects with a ``name``/``source``), bare or
    under ``"documents"``/``"results"``."""
    document = answer_json(body, "documents list")
    if document is None:
        return []
    if isinstance(document, dict):
        document = next(
            (document[k] for k in ("documents", "results", "data") if k in document), document
        )
    if not isinstance(document, list):
        raise APIResponseValidationError(
            "the documents list answer is not a list of document names",
            body_excerpt=excerpt(body),
        )
    names: list[str] = []
    for entry in document:
        name = _document_name(entry)
        if name is None:
            raise APIResponseValidationError(
                "a documents list entry has no name",
                body_excerpt=excerpt(json.dumps(entry, default=str)),
            )
        names.append(name)
    return names


def documents_route(rag_id: str) -> Route[list[str]]:
    """``GET`` the names of the documents in knowledge base ``rag_id``."""
    _check_text("rag_id", rag_id)
    path = f"/v3/rag/documents/{encode_path_segment(rag_id, 'rag_id')}/"
    return Route.get(KNOWLEDGE_BASES, path, parse_documents)


# -- the per-run feature -----------------------------------------------------------------------
def knowledge_base_feature(
    *rag_ids: str,
    top_k: int = 10,
    retrieval_type: str = "basic",
    score_threshold: float = 0.0,
    time_decay_factor: float = 0.4,
    name: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The ``KNOWLEDGE_BASE`` feature that lets an agent run retrieve from the given knowledge
    bases, in the official shape (lyzr-adk's ``Agent.run(knowledge_bases=...)``; docs/wire.md):

    ``{"type": "KNOWLEDGE_BASE", "config": {"lyzr_rag": {}, "agentic_rag": [{"rag_id", "name",
    "description", "top_k", "retrieval_type", "score_threshold", "time_decay_factor"}, ...]},
    "priority": 0}``

    Pass it in ``AgentRequest(features=[...])`` (or a model's ``features``). The defaults are
    lyzr-adk's. ``name``/``description`` (default: the rag id, and "Knowledge base: {name}")
    are what the agent sees of each base.
    """
    if not rag_ids:
        raise InvalidRequestError("knowledge_base_feature needs at least one rag_id")
    if len(set(rag_ids)) != len(rag_ids):
        raise InvalidRequestError(f"rag_ids must be unique, got {list(rag_ids)}")
    check_retrieval(
        rag_ids[0], top_k=top_k, retrieval_type=retrieval_type, score_threshold=score_threshold
    )
    if top_k is None or retrieval_type is None or score_threshold is None:
        raise InvalidRequestError("top_k, retrieval_type and score_threshold must be given")
    _check_fraction("time_decay_factor", time_decay_factor, required=True)
    if name is not None and len(rag_ids) > 1:
        raise InvalidRequestError("name names one knowledge base; give one rag_id with it")
    for label, text in (("name", name), ("description", description)):
        if text is not None:
            _check_text(label, text)
    bases = []
    for rag_id in rag_ids:
        _check_text("rag_id", rag_id)
        shown = name or rag_id
        bases.append(
            {
                "rag_id": rag_id,
                "name": shown,
                "description": description or f"Knowledge base: {shown}",
                "top_k": top_k,
                "retrieval_type": retrieval_type,
                "score_threshold": float(score_threshold),
                "time_decay_factor": float(time_decay_factor),
            }
        )
    return {
        "type": "KNOWLEDGE_BASE",
        "config": {"lyzr_rag": {}, "agentic_rag": bases},
        "priority": 0,
    }
