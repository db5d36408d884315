"""ChatLyzr's arguments: typos named, odd values refused, model= is the agent, ignored ones warn."""

from __future__ import annotations

from typing import Any

import pytest

from langchain_lyzr_stream import ChatLyzr
from lyzr_stream import InvalidRequestError
from lyzr_stream.emulator import Emulator
from tests.conftest import FAKE_KEY
from tests.langchain.conftest import ModelFactory, answer_requests


@pytest.mark.parametrize("typo", ["sesion_id", "agentid", "message_mod"])
def test_constructor_typos_are_named(make_model: ModelFactory, typo: str) -> None:
    with pytest.raises(InvalidRequestError, match=typo):
        make_model(**{typo: "x"})


def test_unknown_per_call_argument_is_an_error(make_model: ModelFactory) -> None:
    with pytest.raises(InvalidRequestError, match="unexpected argument"):
        make_model().invoke("x", sesion_id="typo")


def test_framework_constructor_arguments_still_work(make_model: ModelFactory) -> None:
    model = make_model(callbacks=[], tags=["t"], metadata={"k": "v"}, verbose=False)
    assert model.tags == ["t"]


@pytest.mark.parametrize(
    "kwargs", [{"timeout": True}, {"timeout": "5"}, {"max_retries": True}, {"max_retries": "2"}]
)
def test_loose_timeout_and_retry_types_are_refused(kwargs: dict[str, Any]) -> None:
    (name,) = kwargs
    with pytest.raises(InvalidRequestError, match=name):
        ChatLyzr(agent_id="a", api_key="k", **kwargs)


def test_numbers_are_still_accepted() -> None:
    model = ChatLyzr(agent_id="a", api_key="k", timeout=5, max_retries=0)
    assert (model.timeout, model.max_retries) == (5, 0)


@pytest.mark.parametrize("field", ["system_prompt_variables", "filter_variables"])
def test_a_circular_dict_is_refused_at_construction(field: str) -> None:
    looped: dict[str, Any] = {"a": 1}
    looped["self"] = looped
    with pytest.raises(InvalidRequestError, match=field):
        ChatLyzr(agent_id="a", api_key="k", **{field: looped})


def test_a_circular_feature_is_refused_at_construction() -> None:
    config: dict[str, Any] = {}
    config["loop"] = config
    with pytest.raises(InvalidRequestError, match="features"):
        ChatLyzr(agent_id="a", api_key="k", features=[{"type": "x", "config": config}])


def test_model_is_an_alias_of_agent_id(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    model = ChatLyzr(model="memory", api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url)
    assert model.agent_id == model.model_name == "memory"
    assert model.invoke("hi").response_metadata["agent_id"] == "memory"
    assert answer_requests(lyzr_emulator)[-1].json["agent_id"] == "memory"


def test_model_and_agent_id_must_agree() -> None:
    with pytest.raises(InvalidRequestError, match="alias"):
        ChatLyzr(model="a", agent_id="b", api_key=FAKE_KEY)
    assert ChatLyzr(model="a", agent_id="a", api_key=FAKE_KEY).agent_id == "a"


def test_per_call_agent(make_model: ModelFactory) -> None:
    message = make_model().invoke("x", model="memory")
    assert message.response_metadata["model_name"] == "memory"


def test_ignored_generation_settings_warn() -> None:
    with pytest.warns(UserWarning, match="ignores temperature"):
        ChatLyzr(agent_id="a", api_key="k", temperature=0.2)
