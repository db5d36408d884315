"""The langchain-tests retriever suite against ``LyzrRetriever`` and the embedded emulator
(``top_k`` is the number-of-results argument, at construction and per call)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip(
    "langchain_tests.integration_tests.retrievers",
    reason="this langchain-tests has no retriever suite",
)

from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests.retrievers import RetrieversIntegrationTests

from langchain_lyzr_stream import LyzrRetriever
from lyzr_stream.emulator import Emulator

_EMULATOR: dict[str, Emulator] = {}


@pytest.fixture(autouse=True)
def _emulator(lyzr_emulator: Emulator) -> None:
    _EMULATOR["em"] = lyzr_emulator


class TestLyzrRetrieverIntegration(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return LyzrRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        em = _EMULATOR["em"]
        return {"rag_id": "kb-handbook", "api_key": em.api_key, "rag_base_url": em.base_url}

    @property
    def retriever_query_example(self) -> str:
        # Every passage of the handbook shares a word with it: enough for top_k=3.
        return "Lyzr Cafe opens weekends refunds loyalty coffee founded"

    @property
    def num_results_arg_name(self) -> str:
        return "top_k"
