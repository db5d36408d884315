"""Leaks under churn: many ``asyncio.run`` calls with one long-lived client, cancellation storms
(single and double ``task.cancel()``), and async streams abandoned without ``async with``.

Each leaves file descriptors, tasks and pool connections at their starting counts, logs no
"Task was destroyed but it is pending" / "asynchronous generator is already running", and emits
no ResourceWarning (these tests turn it into an error).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import tracemalloc
import uuid
import warnings

import pytest

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import AgentRequest, TextDelta
from lyzr_stream.emulator import Emulator
from tests.conftest import assert_async_pools_clean, pool_connections
from tests.helpers.clients import make_client
from tests.helpers.garbage import collect_until

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd"),
]


@pytest.fixture(autouse=True)
def _earlier_garbage_collected() -> None:
    """Objects other tests left unclosed are collected first, with their warnings ignored: only
    what happens inside these tests counts."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_asyncio_run_many_times_with_one_client(lyzr_emulator: Emulator) -> None:
    client = make_client(lyzr_emulator)
    request = AgentRequest(agent_id="echo", message="hi", session_id="runs")

    async def one() -> str:
        async with client.astream(request) as stream:
            return "".join([e.text async for e in stream if isinstance(e, TextDelta)])

    for _ in range(20):  # warm-up: imports, caches
        asyncio.run(one())
    lyzr_emulator.reset()
    gc.collect()
    fds = _fds()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(1000):
        assert asyncio.run(one()) == "You said: hi"
    lyzr_emulator.reset()  # the in-process emulator records every request

    def grown() -> int:
        return tracemalloc.get_traced_memory()[0] - before

    small = collect_until(lambda: grown() < 1_000_000)
    tracemalloc.stop()
    assert small, f"memory grew by {grown()} bytes over 1,000 asyncio.run calls"
    assert collect_until(lambda: _fds() <= fds + 2), "sockets of finished event loops are open"
    assert not client._connections.loops_with_pools(), "pools of ended event loops are still held"
    client.close()


@pytest.mark.parametrize("surface", ["langchain", "llamaindex"])
def test_asyncio_run_many_times_with_one_model(lyzr_emulator: Emulator, surface: str) -> None:
    kw = {"api_key": lyzr_emulator.api_key, "base_url": lyzr_emulator.base_url}
    if surface == "langchain":
        model = ChatLyzr(agent_id="echo", **kw)

        async def one() -> str:
            return str((await model.ainvoke("hi")).text)

        client = model.client
    else:
        llm = LyzrLLM(agent_id="echo", **kw)

        async def one() -> str:
            return (await llm.acomplete("hi")).text

        client = llm.client
    for _ in range(10):
        asyncio.run(one())
    gc.collect()
    fds = _fds()
    for _ in range(200):
        assert asyncio.run(one()) == "You said: hi"
    assert collect_until(lambda: _fds() <= fds + 2)
    assert not client._connections.loops_with_pools()


async def test_cancellation_storm_leaks_nothing(lyzr_emulator: Emulator) -> None:
    """2,000 streams, each left to finish, cancelled once, or cancelled twice with no await in
    between (nested timeouts, TaskGroup teardown): nothing is left behind."""
    rng = random.Random(19)
    gc.collect()
    fds = _fds()  # before the client opened anything (the emulator's sockets count too)
    tasks = len(asyncio.all_tasks())
    client = make_client(
        lyzr_emulator,
        max_connections=64,
        stop_on_exit=False,
        default_headers={"x-emulator-token-delay": "0.004"},
    )
    request = AgentRequest(agent_id="long-5", message="go", session_id="storm")

    async def consume(started: asyncio.Event) -> None:
        async with client.astream(request) as stream:
            async for _ in stream:
                started.set()

    async def one() -> None:
        started = asyncio.Event()
        task = asyncio.create_task(consume(started))
        mode = rng.choice(("finish", "cancel", "double"))
        if mode != "finish":
            await asyncio.wait_for(started.wait(), 10)
            await asyncio.sleep(rng.random() * 0.01)
            task.cancel()
            if mode == "double":
                task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    for _ in range(2000 // 50):  # 50 at a time: none waits for a connection
        await asyncio.gather(*(one() for _ in range(50)))
    gc.collect()
    assert len(asyncio.all_tasks()) == tasks, "tasks left behind"
    assert_async_pools_clean(client)
    assert sum(len(pool_connections(shard)) for shard in client._async_pools().clients) <= 64
    # Still usable at full width: every connection was given back.
    again = AgentRequest(agent_id="echo", message="again", session_id="storm")
    answers = await asyncio.gather(*(client.astream(again).until_done() for _ in range(64)))
    assert {a.text for a in answers} == {"You said: again"}
    await client.aclose()
    for _ in range(200):  # the emulator closes its side of each connection a moment later
        if _fds() <= fds + 2:
            break
        await asyncio.sleep(0.02)
    assert _fds() <= fds + 2, "sockets left open"


async def test_abandoned_async_for_is_finalized_quietly(
    lyzr_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(
        lyzr_emulator, stop_on_exit=False, default_headers={"x-emulator-token-delay": "0.01"}
    )
    loop = asyncio.get_running_loop()
    problems: list[str] = []
    loop.set_exception_handler(lambda _loop, context: problems.append(context["message"]))
    tasks = len(asyncio.all_tasks())
    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        for _ in range(20):
            request = AgentRequest(agent_id="long-200", message="go", session_id=uuid.uuid4().hex)
            async for _event in client.astream(request):  # no async with, no aclose
                break
        gc.collect()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(asyncio.all_tasks()) == tasks:
                break
        gc.collect()
        await asyncio.sleep(0.05)
    loop.set_exception_handler(None)
    logged = [r.getMessage() for r in caplog.records] + problems
    assert not [m for m in logged if "destroyed" in m or "already running" in m], logged
    assert len(asyncio.all_tasks()) == tasks
    assert_async_pools_clean(client)
    await client.aclose()
