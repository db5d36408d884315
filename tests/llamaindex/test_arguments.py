"""LyzrLLM's constructor: typos are named; LlamaIndex's own arguments still work."""

from __future__ import annotations

import pytest

from lyzr_stream import InvalidRequestError
from lyzr_stream.emulator import Emulator
from tests.llamaindex.conftest import LLMFactory


@pytest.mark.parametrize("typo", ["sesion_id", "agentid", "system_prompt_vars"])
def test_constructor_typos_are_named(make_llm: LLMFactory, typo: str) -> None:
    with pytest.raises(InvalidRequestError, match=typo):
        make_llm(**{typo: "x"})


def test_framework_constructor_arguments_still_work(
    make_llm: LLMFactory, lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llama_index.core.callbacks import CallbackManager

    llm = make_llm(callback_manager=CallbackManager([]), system_prompt="Be brief.")
    assert llm.system_prompt == "Be brief."
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    assert type(llm).from_dict(llm.to_dict()).agent_id == llm.agent_id  # carries class_name
