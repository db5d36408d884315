"""ChatLyzr's constructor: header values are secrets like the key; odd input is a typed error."""

from __future__ import annotations

from typing import Any

import pytest

from langchain_lyzr_stream import ChatLyzr
from lyzr_stream import InvalidRequestError


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
