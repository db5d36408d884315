"""``LyzrRetriever``: a Lyzr knowledge base as a LlamaIndex retriever."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import SecretStr

from lyzr_stream._adapters.closing import ClosesItsClient
from lyzr_stream._adapters.retrieval import chunk_metadata, retrieval_options, retriever_client
from lyzr_stream._client import LyzrClient
from lyzr_stream._errors import redact_url
from lyzr_stream._http.limits import DEFAULT_TIMEOUTS, TimeoutLike
from lyzr_stream._routes.knowledge import RetrievedChunk

__all__ = ["LyzrRetriever"]

#: Metadata a node keeps but a prompt (or an embedding) does not show: bookkeeping, not content.
_NOT_FOR_THE_LLM = ("rag_id", "score", "id", "chunk_index")


class LyzrRetriever(BaseRetriever, ClosesItsClient):
    """The passages of a Lyzr knowledge base most relevant to a query, as LlamaIndex nodes.

    .. code-block:: python

        from llamaindex_lyzr_stream import LyzrRetriever

        retriever = LyzrRetriever(rag_id="your-knowledge-base-id", top_k=4)
        nodes = retriever.retrieve("What are the opening hours?")

    Each passage becomes ``NodeWithScore(node=TextNode(text=..., metadata=..., id_=...),
    score=...)``: the node's id is the passage's (a fresh one when the service gave none);
    its metadata is the metadata the service stored with the passage, then ``rag_id``,
    ``score``, and ``source``, ``page``, ``chunk_index``, ``id`` when given (these win on a
    clash), as for LangChain's ``LyzrRetriever``. ``rag_id``, ``score``, ``id`` and
    ``chunk_index`` are left out of what a prompt shows (``excluded_llm_metadata_keys``).

    Args: ``rag_id``; ``top_k``, ``retrieval_type``, ``score_threshold`` (``None``: the
    service's defaults); ``api_key`` (else ``LYZR_API_KEY``; never in the repr or a pickle);
    ``rag_base_url`` (else ``LYZR_RAG_URL``, else ``https://rag-prod.studio.lyzr.ai``);
    ``base_url``, ``timeout``, ``max_retries``, ``allow_insecure_http``, ``default_headers``
    as for ``LyzrLLM``; and LlamaIndex's ``callback_manager`` and ``verbose``.

    The retriever owns its client: ``close()`` / ``aclose()`` (or ``with``) release its
    connections; a closed retriever refuses calls.
    """

    def __init__(
        self,
        rag_id: str,
        *,
        top_k: int | None = None,
        retrieval_type: str | None = None,
        score_threshold: float | None = None,
        api_key: str | SecretStr | None = None,
        rag_base_url: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike = DEFAULT_TIMEOUTS,
        max_retries: int = 2,
        allow_insecure_http: bool = False,
        default_headers: Mapping[str, str] | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        self.rag_id = rag_id
        self.options = retrieval_options(
            rag_id,
            {},
            {"top_k": top_k, "retrieval_type": retrieval_type, "score_threshold": score_threshold},
        )
        self._client_options: dict[str, Any] = {
            "base_url": base_url,
            "rag_base_url": rag_base_url,
            "timeout": timeout,
            "max_retries": max_retries,
            "allow_insecure_http": allow_insecure_http,
        }
        self._headers = dict(default_headers or {})
        self._client = self._new_client(api_key)
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    def _new_client(self, api_key: str | SecretStr | None) -> LyzrClient:
        return retriever_client(
            api_key=api_key,
            default_headers=self._headers,
            owner=type(self).__name__,
            **self._client_options,
        )

    @property
    def client(self) -> LyzrClient:
        """The core client."""
        return self._client

    def __repr__(self) -> str:
        rag_url = redact_url(self._client.settings.rag_base_url)
        given = "".join(f", {k}={v!r}" for k, v in self.options.items() if v is not None)
        return f"LyzrRetriever(rag_id={self.rag_id!r}{given}, rag_base_url={rag_url!r})"

    # -- retrieval -------------------------------------------------------------------------------
    def _nodes(self, chunks: list[RetrievedChunk]) -> list[NodeWithScore]:
        nodes = []
        for chunk in chunks:
            metadata = chunk_metadata(chunk, self.rag_id)
            hidden = [k for k in _NOT_FOR_THE_LLM if k in metadata]
            fields: dict[str, Any] = {
                "text": chunk.text,
                "metadata": metadata,
                "excluded_llm_metadata_keys": hidden,
                "excluded_embed_metadata_keys": hidden,
            }
            if chunk.id is not None:
                fields["id_"] = chunk.id
            node = TextNode(**fields)
            nodes.append(NodeWithScore(node=node, score=chunk.score))
        return nodes

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        chunks = self._client.retrieve(self.rag_id, query_bundle.query_str, **self.options)
        return self._nodes(chunks)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        chunks = await self._client.aretrieve(
            self.rag_id, query_bundle.query_str, **self.options
        )
        return self._nodes(chunks)

    # -- pickling ----------------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the key, the header values and the client: unpickling rereads the
        key from ``LYZR_API_KEY`` and builds a new client (header values are not kept)."""
        state = dict(self.__dict__)
        state.update(_client=None, _headers={})
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client = self._new_client(None)
