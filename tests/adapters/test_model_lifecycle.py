"""ChatLyzr and LyzrLLM share one client lifecycle (``LyzrModelFields``): each rule is pinned here
for both classes, so that neither framework's base class can quietly bypass it.

The lifecycle: the client is built (and every argument checked) at construction; a pickle holds
no key, no header value and no client; unpickling rereads the key from the environment of the
process that unpickles and builds a new client there, or fails naming ``LYZR_API_KEY``. A model
closes (``close``/``aclose``, ``with``/``async with``; idempotent), refuses calls once closed,
and a model dropped without closing leaks no socket.
"""

from __future__ import annotations

import gc
import os
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.load import dumpd, load

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import InvalidRequestError, LyzrClient, Timeouts
from lyzr_stream._adapters import model_fields
from lyzr_stream._adapters.model_fields import LyzrModelFields
from lyzr_stream._http.limits import DEFAULT_TIMEOUTS
from lyzr_stream.emulator import Emulator
from tests.helpers.garbage import collect_until

#: A key the emulator refuses: a clone that still used it could not answer.
STALE_KEY = "sk-lyzr-STALE-0000-not-the-emulators"
HEADER_SECRET = "Basic cHJveHk6c2VjcmV0LWxpZmVjeWNsZQ=="


def _answer_chat(model: Any) -> str:
    return str(model.invoke("hi").content)


def _answer_llm(model: Any) -> str:
    return str(model.complete("hi").text)


CLASSES: list[tuple[type[LyzrModelFields], Callable[[Any], str]]] = [
    (ChatLyzr, _answer_chat),
    (LyzrLLM, _answer_llm),
]


@pytest.fixture(params=CLASSES, ids=lambda p: p[0].__name__)
def kind(request: pytest.FixtureRequest) -> tuple[type[LyzrModelFields], Callable[[Any], str]]:
    return request.param  # type: ignore[no-any-return]


def test_client_is_built_and_checked_at_construction(
    kind: tuple[type[LyzrModelFields], Callable[[Any], str]], no_lyzr_env: None
) -> None:
    cls, _ = kind
    model = cls(agent_id="a", api_key="k", base_url="https://example.invalid")
    assert isinstance(model.client, LyzrClient)
    assert model.client is model.client
    assert model.client.settings.base_url == "https://example.invalid"
    with pytest.raises(InvalidRequestError, match="LYZR_API_KEY"):
        cls(agent_id="a", base_url="https://example.invalid")
    with pytest.raises(InvalidRequestError, match="dialect"):
        cls(agent_id="a", api_key="k", dialect="no-such-dialect")


def test_pickle_rereads_the_key_and_builds_a_new_client(
    kind: tuple[type[LyzrModelFields], Callable[[Any], str]],
    lyzr_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cls, answer = kind
    model = cls(
        agent_id="echo",
        api_key=STALE_KEY,
        base_url=lyzr_emulator.base_url,
        default_headers={"Proxy-Authorization": HEADER_SECRET},
    )
    model.client._sync_http()  # a live pool must not go into the pickle
    data = pickle.dumps(model)
    for secret in (STALE_KEY, HEADER_SECRET):
        assert secret.encode() not in data
    assert model.api_key is not None and model.api_key.get_secret_value() == STALE_KEY

    # The "worker": its own environment's key is the one the clone uses.
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    clone: Any = pickle.loads(data)
    assert type(clone) is cls
    assert clone.api_key.get_secret_value() == lyzr_emulator.api_key
    assert clone.default_headers == {}
    assert clone.client is not model.client
    assert clone.client.settings.api_key.get_secret_value() == lyzr_emulator.api_key
    assert clone.client.settings.base_url == lyzr_emulator.base_url
    assert answer(clone) == "You said: hi"

    monkeypatch.delenv("LYZR_API_KEY")
    with pytest.raises(InvalidRequestError, match="LYZR_API_KEY"):
        pickle.loads(data)


# -- timeout: the default is the library's defaults, None is no timeout ----------------------------
@pytest.fixture
def client_timeouts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The ``timeout`` argument of every client a model builds, in order."""
    seen: list[Any] = []

    class RecordingClient(LyzrClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            seen.append(kwargs.get("timeout", "<not given>"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(model_fields, "LyzrClient", RecordingClient)
    return seen


def _round_trips(model: Any) -> list[Any]:
    """The model after each way a framework user stores it: a pickle, and the framework's own
    dump (LangChain's ``dumpd``/``load``, LlamaIndex's ``to_dict``/``from_dict``)."""
    clones = [pickle.loads(pickle.dumps(model))]
    if isinstance(model, ChatLyzr):
        data = dumpd(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # load() is a LangChain beta
            clones.append(
                load(
                    data,
                    secrets_from_env=True,
                    valid_namespaces=["langchain_lyzr_stream"],
                    allowed_objects=[ChatLyzr],
                )
            )
    else:
        clones.append(LyzrLLM.from_dict(model.to_dict()))
        clones.append(LyzrLLM.from_json(model.to_json()))
    return clones


def test_timeout_default_is_the_library_defaults(
    kind: tuple[type[LyzrModelFields], Callable[[Any], str]],
    client_timeouts: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cls, _ = kind
    monkeypatch.setenv("LYZR_API_KEY", "k")
    model = cls(agent_id="a", base_url="https://example.invalid")
    assert model.timeout is DEFAULT_TIMEOUTS
    assert client_timeouts == [DEFAULT_TIMEOUTS]
    for clone in _round_trips(model):
        assert clone.timeout == DEFAULT_TIMEOUTS
    assert client_timeouts[1:] == [DEFAULT_TIMEOUTS] * (len(client_timeouts) - 1)


def test_timeout_none_is_passed_on_as_no_timeout(
    kind: tuple[type[LyzrModelFields], Callable[[Any], str]],
    client_timeouts: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # LyzrClient(timeout=None) means no timeout; the model hands the user's None on unchanged
    # (it is not "the defaults" any more), also after a pickle or the framework's own dump.
    cls, _ = kind
    monkeypatch.setenv("LYZR_API_KEY", "k")
    model = cls(agent_id="a", base_url="https://example.invalid", timeout=None)
    assert model.timeout is None
    assert client_timeouts == [None]
    for clone in _round_trips(model):
        assert clone.timeout is None
    assert client_timeouts[1:] == [None] * (len(client_timeouts) - 1)
    assert len(client_timeouts) > 2


def test_chatlyzr_dumpd_leaves_the_default_timeout_out_and_writes_others_as_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LYZR_API_KEY", "k")
    assert "timeout" not in dumpd(ChatLyzr(agent_id="a"))["kwargs"]
    data = dumpd(ChatLyzr(agent_id="a", timeout=Timeouts(read=7.0, total=60.0)))
    assert data["kwargs"]["timeout"] == {
        "connect": 10.0,
        "read": 7.0,
        "write": 30.0,
        "pool": 30.0,
        "first_byte": None,
        "total": 60.0,
    }
    (clone,) = _round_trips(ChatLyzr(agent_id="a", timeout=Timeouts(read=7.0, total=60.0)))[1:]
    assert clone.timeout == Timeouts(read=7.0, total=60.0)


# -- closing (#26 item 6) ----------------------------------------------------------------------
def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _answer(model: Any) -> str:
    return _answer_chat(model) if isinstance(model, ChatLyzr) else _answer_llm(model)


async def _aanswer(model: Any) -> str:
    if isinstance(model, ChatLyzr):
        return str((await model.ainvoke("hi")).content)
    return str((await model.acomplete("hi")).text)


def test_with_closes_the_model_and_a_closed_model_refuses_calls(
    kind: tuple[type[LyzrModelFields], Callable[[Any], str]], lyzr_emulator: Emulator
) -> None:
    cls, answer = kind
    with cls(agent_id="echo", api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url) as m:
        assert answer(m) == "You said: hi"
        pool = m.client._sync_http()
    assert pool.is_closed
    m.close()  # idempotent
    with pytest.raises(InvalidRequestError, match=rf"this {cls.__name__} is closed"):
        answer(m)


async def test_async_with_closes_the_model_and_its_async_pools(
    kind: tuple[type[LyzrModelFields], Callable[[Any], str]], lyzr_emulator: Emulator
) -> None:
    cls, _ = kind
    em = lyzr_emulator
    async with cls(agent_id="echo", api_key=em.api_key, base_url=em.base_url) as m:
        assert await _aanswer(m) == "You said: hi"
        shards = m.client._async_pools().clients
    assert shards and all(shard.is_closed for shard in shards)
    await m.aclose()  # idempotent
    m.close()
    with pytest.raises(InvalidRequestError, match=rf"this {cls.__name__} is closed"):
        await _aanswer(m)


def test_dropped_models_leak_no_socket(
    kind: tuple[type[LyzrModelFields], Callable[[Any], str]], lyzr_emulator: Emulator
) -> None:
    """100 models, each used once (its sync pool keeps a keep-alive socket) and dropped
    without close(): every pool is closed (before #26 none was: the garbage collector closed
    the sockets, each with an "unclosed <socket.socket ...>" ResourceWarning)."""
    cls, answer = kind
    em = lyzr_emulator
    answer(cls(agent_id="echo", api_key=em.api_key, base_url=em.base_url))  # imports, warm-up
    gc.collect()
    before = _open_fds()
    pools = []
    for _ in range(100):
        model = cls(agent_id="echo", api_key=em.api_key, base_url=em.base_url)
        assert answer(model) == "You said: hi"
        pools.append(model.client._sync_http())  # the pool only, not the model
        del model
    assert collect_until(lambda: all(pool.is_closed for pool in pools))
    # The emulator (in this process) closes its side of each connection once it sees the end.
    assert collect_until(lambda: _open_fds() - before <= 2)
