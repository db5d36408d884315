"""What the framework retrievers (LangChain's and LlamaIndex's ``LyzrRetriever``) share,
framework-neutral: their client, the options of one retrieval, and a passage's metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._client import LyzrClient
from .._errors import InvalidRequestError
from .._http.limits import TimeoutLike
from .._routes.knowledge import RetrievedChunk, check_retrieval

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = [
    "RETRIEVAL_OPTION_NAMES",
    "chunk_metadata",
    "retrieval_options",
    "retriever_client",
]

#: What a retriever takes at construction and per call (a call's value wins).
RETRIEVAL_OPTION_NAMES = ("top_k", "retrieval_type", "score_threshold")

#: The keys a passage's metadata gets from the retrieval itself; they win over the same keys in
#: the metadata the service stored with the passage (that one is kept whole under ``metadata``
#: in ``RetrievedChunk`` and merged here only where it does not clash).
RETRIEVAL_KEYS = ("rag_id", "score", "source", "page", "chunk_index", "id")


def retriever_client(
    *,
    api_key: str | SecretStr | None,
    base_url: str | None,
    rag_base_url: str | None,
    timeout: TimeoutLike,
    max_retries: int,
    allow_insecure_http: bool,
    default_headers: Mapping[str, str] | None,
    owner: str,
) -> LyzrClient:
    """The core client a retriever owns (every client argument is checked here)."""
    client = LyzrClient(
        api_key=api_key,
        base_url=base_url,
        rag_base_url=rag_base_url,
        timeout=timeout,
        max_retries=max_retries,
        allow_insecure_http=allow_insecure_http,
        default_headers=default_headers or None,
        stop_on_exit=False,  # a retriever runs no agent
    )
    client._owner_name = owner
    return client


def retrieval_options(
    rag_id: str, defaults: Mapping[str, Any], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """One retrieval's options: the retriever's, replaced by the call's. Another keyword is
    an :class:`~lyzr_stream.InvalidRequestError` naming it, as is a bad value."""
    unknown = sorted(set(overrides) - set(RETRIEVAL_OPTION_NAMES))
    if unknown:
        raise InvalidRequestError(
            f"unexpected retrieval option(s) {unknown}; a call takes "
            f"{', '.join(RETRIEVAL_OPTION_NAMES)}"
        )
    options = {name: defaults.get(name) for name in RETRIEVAL_OPTION_NAMES}
    options.update(overrides)
    check_retrieval(rag_id, **options)
    return options


def chunk_metadata(chunk: RetrievedChunk, rag_id: str) -> dict[str, Any]:
    """A passage's metadata for a framework document: the service's stored metadata, then
    :data:`RETRIEVAL_KEYS` (``rag_id``, ``score``, and ``source``, ``page``, ``chunk_index``,
    ``id`` when the service gave them), which win on a clash."""
    metadata = dict(chunk.metadata)
    own = {
        "rag_id": rag_id,
        "score": chunk.score,
        "source": chunk.source,
        "page": chunk.page,
        "chunk_index": chunk.chunk_index,
        "id": chunk.id,
    }
    metadata.update({k: v for k, v in own.items() if v is not None})
    return metadata
