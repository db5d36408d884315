"""Early exit (break, close, Ctrl-C, cancel) closes the response at once; the pool stays usable."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import AgentRequest, LyzrClient, TextDelta
from lyzr_stream.emulator import Emulator
from tests.conftest import assert_async_pools_clean, assert_pool_clean
from tests.helpers.clients import chat_lyzr, lyzr_llm, make_client, req

SLOW = {"x-emulator-token-delay": "0.05"}


# -- break and close --------------------------------------------------------------------------
def test_break_closes_the_response(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-token-delay": "0.01"}
    with make_client(lyzr_emulator, default_headers=headers) as c:
        with c.stream(req("long-500")) as stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    break
        assert_pool_clean(c._sync_http())
        # The pool still works afterwards.
        assert c.chat(req()).text == "You said: hello world"


def test_generator_close_without_context_manager(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, default_headers={"x-emulator-token-delay": "0.01"}) as c:
        stream = c.stream(req("long-500"))
        next(iter(stream))
        stream.close()
        assert_pool_clean(c._sync_http())


async def test_async_break_with_context_manager(lyzr_emulator: Emulator) -> None:
    client = make_client(lyzr_emulator, default_headers={"x-emulator-token-delay": "0.01"})
    async with client.astream(req("long-500")) as stream:
        async for _ in stream:
            break
    assert_async_pools_clean(client)
    await client.aclose()


def test_chatlyzr_break_closes_the_connection(lyzr_emulator: Emulator) -> None:
    model = chat_lyzr(lyzr_emulator, "long-500", default_headers={"x-emulator-token-delay": "0.01"})
    for _ in model.stream("x"):
        break
    assert_pool_clean(model.client._sync_http())
    assert model.invoke("again", model="echo").content == "You said: again"


def test_breaking_out_of_a_stream_with_a_config_closes_it(lyzr_emulator: Emulator) -> None:
    model = chat_lyzr(lyzr_emulator, "long-500", default_headers={"x-emulator-token-delay": "0.01"})
    stream = model.stream("x", config={"configurable": {"session_id": "brk"}})
    next(stream)
    stream.close()  # type: ignore[attr-defined]
    assert_pool_clean(model.client._sync_http())


def test_lyzrllm_break_closes_the_connection(lyzr_emulator: Emulator) -> None:
    llm = lyzr_llm(lyzr_emulator, "long-500", default_headers={"x-emulator-token-delay": "0.01"})
    for _ in llm.stream_complete("x"):
        break
    assert_pool_clean(llm.client._sync_http())


# -- Ctrl-C (a real SIGINT) while blocked on the socket ----------------------------------------
SIGINT_TO_MAIN_THREAD = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread() or os.name != "posix",
    reason="SIGINT is delivered to the main thread on POSIX",
)


def _surfaces(em: Emulator) -> dict[str, tuple[LyzrClient, Callable[[], Iterator[str]]]]:
    kw: dict[str, Any] = {"api_key": em.api_key, "base_url": em.base_url, "default_headers": SLOW}
    client = LyzrClient(**kw)
    model = ChatLyzr(agent_id="long-200", **kw)
    llm = LyzrLLM(agent_id="long-200", **kw)

    def core() -> Iterator[str]:
        with client.stream(AgentRequest(agent_id="long-200", message="go")) as stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    yield event.text

    return {
        "core": (client, core),
        "langchain": (model.client, lambda: (c.text for c in model.stream("go"))),
        "llamaindex": (llm.client, lambda: (r.delta or "" for r in llm.stream_complete("go"))),
    }


@SIGINT_TO_MAIN_THREAD
@pytest.mark.parametrize("surface", ["core", "langchain", "llamaindex"])
def test_ctrl_c_while_waiting_for_the_next_token(lyzr_emulator: Emulator, surface: str) -> None:
    client, stream = _surfaces(lyzr_emulator)[surface]
    received: list[str] = []
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        for text in stream():
            received.append(text)
            if len(received) == 1:
                timer.start()  # fires while the loop is blocked reading the socket
    timer.join()
    assert 0 < len(received) < 200, "the interrupt did not stop the stream midway"
    assert_pool_clean(client._sync_http())
    # Ctrl-C is an early exit: the service is asked to stop the agent (once, within 2 s).
    session = [r for r in lyzr_emulator.requests if r.json["agent_id"] == "long-200"][-1]
    session_id = session.json["session_id"]
    until = time.monotonic() + 2
    while session_id not in lyzr_emulator.stop_requests and time.monotonic() < until:
        time.sleep(0.01)
    assert lyzr_emulator.stop_requests.count(session_id) == 1
    # The client is still usable afterwards.
    request = AgentRequest(agent_id="echo", message="again")
    assert client.stream(request).until_done().text == "You said: again"


# -- task cancellation ------------------------------------------------------------------------
async def test_cancelled_task_closes_the_response(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-token-delay": "0.01"}
    client = make_client(lyzr_emulator, default_headers=headers)
    started = asyncio.Event()

    async def consume() -> None:
        async with client.astream(req("long-500")) as stream:
            async for _ in stream:
                started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert_async_pools_clean(client)
    await client.aclose()


async def _astream(surface: str, em: Emulator) -> tuple[LyzrClient, AsyncIterator[str]]:
    kw: dict[str, Any] = {"api_key": em.api_key, "base_url": em.base_url, "default_headers": SLOW}
    if surface == "langchain":
        model = ChatLyzr(agent_id="long-200", **kw)

        async def lc() -> AsyncIterator[str]:
            async for chunk in model.astream("go"):
                yield chunk.text

        return model.client, lc()
    llm = LyzrLLM(agent_id="long-200", **kw)

    async def li() -> AsyncIterator[str]:
        async for response in await llm.astream_complete("go"):
            yield response.delta or ""

    return llm.client, li()


@pytest.mark.parametrize("surface", ["langchain", "llamaindex"])
async def test_cancelling_the_task_closes_the_response(
    lyzr_emulator: Emulator, surface: str
) -> None:
    client, texts = await _astream(surface, lyzr_emulator)
    received: list[str] = []
    first = asyncio.Event()

    async def consume() -> None:
        async for text in texts:
            received.append(text)
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)  # let the closing generators run their cleanup
    assert 0 < len(received) < 200
    assert_async_pools_clean(client)
    await client.aclose()
