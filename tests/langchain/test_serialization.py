"""ChatLyzr serialised the LangChain way: lc_secrets, ls params, dumpd/load given the key."""

from __future__ import annotations

import warnings

import pytest
from langchain_core.load import dumpd, load

from langchain_lyzr_stream import ChatLyzr
from tests.conftest import FAKE_KEY


def test_langchain_conventions() -> None:
    model = ChatLyzr(agent_id="a1", api_key=FAKE_KEY)
    assert model._llm_type == "lyzr"
    assert model._identifying_params["agent_id"] == "a1"
    ls = model._get_ls_params()
    assert (ls["ls_provider"], ls["ls_model_name"], ls["ls_model_type"]) == ("lyzr", "a1", "chat")
    assert model.lc_secrets == {"api_key": "LYZR_API_KEY"}


def test_serialization_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    model = ChatLyzr(agent_id="a1", api_key=FAKE_KEY, session_id="s", timeout=30)
    monkeypatch.setenv("LYZR_API_KEY", FAKE_KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load(
            dumpd(model),
            allowed_objects=[ChatLyzr],
            valid_namespaces=["langchain_lyzr_stream"],
            secrets_from_env=True,
        )
    assert isinstance(loaded, ChatLyzr)
    assert (loaded.agent_id, loaded.session_id, loaded.timeout) == ("a1", "s", 30)
    assert loaded.api_key is not None and loaded.api_key.get_secret_value() == FAKE_KEY


def test_readme_serialisation_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_core.load import dumpd, load

    monkeypatch.delenv("LYZR_API_KEY", raising=False)
    model = ChatLyzr(agent_id="a1", api_key=FAKE_KEY, session_id="s")
    data = dumpd(model)
    assert data["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["LYZR_API_KEY"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clone = load(
            data,
            secrets_map={"LYZR_API_KEY": FAKE_KEY},
            valid_namespaces=["langchain_lyzr_stream"],
            allowed_objects=[ChatLyzr],
        )
    assert isinstance(clone, ChatLyzr)
    assert (clone.agent_id, clone.session_id) == ("a1", "s")
    assert clone.api_key is not None and clone.api_key.get_secret_value() == FAKE_KEY
