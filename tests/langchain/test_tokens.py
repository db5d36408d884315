"""Token counting needs no tokenizer: about four characters a token, messages and tools counted."""

from __future__ import annotations

import sys

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, trim_messages

from langchain_lyzr_stream import ChatLyzr
from tests.conftest import FAKE_KEY
from tests.langchain.conftest import add


def test_token_counting_needs_no_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hide transformers, as in an environment without it: the counts must not need it.
    monkeypatch.setitem(sys.modules, "transformers", None)
    model = ChatLyzr(agent_id="a", api_key=FAKE_KEY)
    assert model.get_num_tokens("") == 0
    assert model.get_num_tokens("abcd" * 10) == 10
    history = [SystemMessage("be brief"), HumanMessage("hello " * 50), AIMessage("hi " * 50)]
    total = model.get_num_tokens_from_messages(history)
    assert total > model.get_num_tokens_from_messages(history[:1]) > 0
    assert model.get_num_tokens_from_messages(history[:2], tools=[add]) > (
        model.get_num_tokens_from_messages(history[:2])
    )
    trimmed = trim_messages(
        history, max_tokens=total // 2, token_counter=model, strategy="last", include_system=True
    )
    assert trimmed[0] == history[0] and len(trimmed) < len(history)
