"""``LyzrRetriever``: a Lyzr knowledge base as a LangChain retriever."""

from __future__ import annotations

from typing import Any, Self

import httpx
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    model_validator,
)

from lyzr_stream._adapters.closing import ClosesItsClient
from lyzr_stream._adapters.model_fields import pickled_without_secrets
from lyzr_stream._adapters.retrieval import chunk_metadata, retrieval_options, retriever_client
from lyzr_stream._client import LyzrClient
from lyzr_stream._errors import redact_url
from lyzr_stream._http.limits import DEFAULT_TIMEOUTS, Timeouts
from lyzr_stream._request import own_errors
from lyzr_stream._routes.knowledge import RetrievedChunk, check_retrieval
from lyzr_stream._settings import ENV_API_KEY

__all__ = ["LyzrRetriever"]


class LyzrRetriever(BaseRetriever, ClosesItsClient):
    """The passages of a Lyzr knowledge base most relevant to a query, as LangChain documents.

    .. code-block:: python

        from langchain_lyzr_stream import LyzrRetriever

        retriever = LyzrRetriever(rag_id="your-knowledge-base-id", top_k=4)
        docs = retriever.invoke("What are the opening hours?")

    Each passage becomes ``Document(page_content=text, metadata=...)``: the metadata the
    service stored with the passage, then ``rag_id``, ``score`` (0 to 1), and ``source``,
    ``page``, ``chunk_index`` and ``id`` when the service gave them; on a clash these win (the
    stored metadata stays whole in ``RetrievedChunk.metadata`` of ``LyzrClient.retrieve``).

    Args:
        rag_id: the knowledge base's id in Lyzr Studio.
        top_k, retrieval_type, score_threshold: the retrieval's options (``None``: the
            service's defaults); a call may pass its own (``retriever.invoke(q, top_k=2)``).
        api_key: else ``LYZR_API_KEY``; a secret: never in the repr, a dump or a pickle.
        rag_base_url: the knowledge-base host; else ``LYZR_RAG_URL``, else
            ``https://rag-prod.studio.lyzr.ai``.
        base_url, timeout, max_retries, allow_insecure_http, default_headers: as for
            ``ChatLyzr`` (``default_headers`` values are secrets too).

    The retriever owns its client: ``close()`` / ``aclose()`` (or ``with``) release its
    connections; a closed retriever refuses calls.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    rag_id: str = Field(description="The knowledge base's id in Lyzr Studio.")
    top_k: int | None = Field(
        default=None, strict=True, description="At most this many passages."
    )
    retrieval_type: str | None = Field(
        default=None, description="The service's method: basic, mmr, hyde, time_aware."
    )
    score_threshold: float | None = Field(
        default=None, strict=True, description="Leave out passages scored below this (0 to 1)."
    )
    api_key: SecretStr | None = Field(
        default=None, description="API key; defaults to the LYZR_API_KEY environment variable."
    )
    rag_base_url: str | None = Field(
        default=None, description="Knowledge-base URL (LYZR_RAG_URL)."
    )
    base_url: str | None = Field(default=None, description="Agent service URL (LYZR_BASE_URL).")
    timeout: float | httpx.Timeout | Timeouts | None = Field(
        default=DEFAULT_TIMEOUTS, description="Seconds, httpx.Timeout or lyzr_stream.Timeouts."
    )
    max_retries: int = Field(default=2, description="Retries on transient failures.")
    allow_insecure_http: bool = Field(default=False, description="Allow keys over plain http.")
    default_headers: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        exclude=True,
        description="Extra headers (values are secrets: never shown, dumped or pickled).",
    )

    _client: LyzrClient | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        # A bad id, option, key or URL is this package's InvalidRequestError (as for ChatLyzr);
        # pydantic's own field errors stay ValidationError.
        with own_errors():
            super().__init__(**data)

    @model_validator(mode="after")
    def _build_client(self) -> Self:
        check_retrieval(
            self.rag_id,
            top_k=self.top_k,
            retrieval_type=self.retrieval_type,
            score_threshold=self.score_threshold,
        )
        self._client = self._new_client(self.api_key)
        self.api_key = self._client.settings.api_key
        return self

    def _new_client(self, api_key: SecretStr | None) -> LyzrClient:
        return retriever_client(
            api_key=api_key,
            base_url=self.base_url,
            rag_base_url=self.rag_base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            allow_insecure_http=self.allow_insecure_http,
            default_headers=self.default_headers,
            owner=type(self).__name__,
        )

    @property
    def client(self) -> LyzrClient:
        """The core client (rebuilt after unpickling)."""
        if self._client is None:
            self._client = self._new_client(self.api_key)
        return self._client

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": ENV_API_KEY}

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name in ("base_url", "rag_base_url") and isinstance(value, str):
                value = redact_url(value)
            yield name, value

    # -- retrieval -------------------------------------------------------------------------------
    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        defaults = {
            "top_k": self.top_k,
            "retrieval_type": self.retrieval_type,
            "score_threshold": self.score_threshold,
        }
        return retrieval_options(self.rag_id, defaults, kwargs)

    def _documents(self, chunks: list[RetrievedChunk]) -> list[Document]:
        return [
            Document(
                page_content=chunk.text,
                metadata=chunk_metadata(chunk, self.rag_id),
                id=chunk.id,
            )
            for chunk in chunks
        ]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        options = self._options(kwargs)
        return self._documents(self.client.retrieve(self.rag_id, query, **options))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        options = self._options(kwargs)
        return self._documents(await self.client.aretrieve(self.rag_id, query, **options))

    # -- pickling ----------------------------------------------------------------------------------
    def __getstate__(self) -> dict[Any, Any]:
        """Pickled without the key, the header values and the client: unpickling rereads the
        key from ``LYZR_API_KEY`` and builds a new client."""
        return pickled_without_secrets(super().__getstate__())

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._client = self._new_client(None)
        object.__setattr__(self, "api_key", self._client.settings.api_key)
