"""ChatLyzr's constructor: header values are secrets like the key; odd input is a typed error."""

from __future__ import annotations

import pickle
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps

from langchain_lyzr_stream import ChatLyzr
from lyzr_stream import InvalidRequestError
from lyzr_stream.emulator import Emulator

from .conftest import answer_requests

HEADER_SECRET = "Basic cHJveHktdXNlcjpTRUNSRVQtaGVhZGVyLXZhbHVl-DO-NOT-LEAK"


class SerializedRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.serialized: list[Any] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self.serialized.append((serialized, kwargs))


def test_default_header_values_never_leak(
    lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    model = ChatLyzr(
        agent_id="echo",
        base_url=lyzr_emulator.base_url,
        default_headers={"Proxy-Authorization": HEADER_SECRET},
    )
    recorder = SerializedRecorder()
    assert model.invoke("hi", config={"callbacks": [recorder]}).text == "You said: hi"
    list(model.stream("hi", config={"callbacks": [recorder]}))
    # The header was sent...
    assert answer_requests(lyzr_emulator)[-1].headers.get("proxy-authorization") == HEADER_SECRET
    # ...and shows up nowhere a model is displayed, dumped, pickled or traced.
    for channel, text in {
        "repr": repr(model),
        "str": str(model),
        "model_dump": str(model.model_dump()),
        "model_dump_json": model.model_dump_json(),
        "dumps": dumps(model),
        "dumpd": str(dumpd(model)),
        "invocation params": str(model._get_invocation_params()),
        "callbacks' serialized": str(recorder.serialized),
    }.items():
        assert HEADER_SECRET not in text, f"a header value leaked through {channel}"
    assert HEADER_SECRET.encode() not in pickle.dumps(model)
    clone = pickle.loads(pickle.dumps(model))
    assert clone.default_headers == {}
    assert clone.invoke("again").text == "You said: again"


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
