"""Models travel to other processes and threads; each process builds its own connection pool."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import LyzrClient
from lyzr_stream.emulator import Emulator
from tests.helpers import scale_out_workers as workers


@pytest.fixture
def key_in_env(lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    # Spawned children inherit the environment: that is where their key comes from.
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    return lyzr_emulator


def test_spawn_pool_runs_pickled_chat_models(key_in_env: Emulator) -> None:
    model = ChatLyzr(agent_id="echo", base_url=key_in_env.base_url, session_id="spawned")
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.starmap(workers.invoke, [(model, f"question {i}") for i in range(4)])
    assert [text for _, text, _ in results] == [f"You said: question {i}" for i in range(4)]
    assert {session for _, _, session in results} == {"spawned"}
    assert all(pid != os.getpid() for pid, _, _ in results)


def test_process_pool_executor_with_lyzr_llm(key_in_env: Emulator) -> None:
    llm = LyzrLLM(agent_id="echo", base_url=key_in_env.base_url)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as executor:
        results = list(executor.map(workers.complete, [llm] * 3, ["a", "b", "c"]))
    assert [text for _, text in results] == ["You said: a", "You said: b", "You said: c"]


def test_thread_pool_shares_one_model(lyzr_emulator: Emulator) -> None:
    model = ChatLyzr(
        agent_id="echo", api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url
    )
    with ThreadPoolExecutor(max_workers=8) as executor:
        texts = list(executor.map(lambda i: model.invoke(f"t{i}").text, range(32)))
    assert texts == [f"You said: t{i}" for i in range(32)]


def test_a_client_is_not_picklable() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(LyzrClient(api_key="k", base_url="http://127.0.0.1:1"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_opens_its_own_pool(lyzr_emulator: Emulator) -> None:
    client = LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url)
    assert workers.stream_with(client, "parent") == "You said: parent"  # the pool is warm
    parent_pool = client._sync_http()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    process = context.Process(target=workers.stream_into, args=(client, "child", results))
    process.start()
    child = results.get(timeout=30)
    process.join(timeout=30)
    assert process.exitcode == 0
    assert child == "You said: child"
    # The parent's pool was not disturbed by the child.
    assert client._sync_http() is parent_pool
    assert workers.stream_with(client, "parent again") == "You said: parent again"
