"""Hostile servers on raw sockets (``shared_hostile_server()``): what a well-behaved server never
does must still end in the answer or in a typed, bounded error.

- After ``[DONE]``, a server that holds the connection, resets it or keeps sending comments:
  every surface returns the answer with its final metadata (the fault matrix covers the plain
  streams; here ``ChatLyzr(streaming=True).invoke`` and the frameworks' last chunk).
- ``total`` bounds one-shot calls whose body is dripped, error bodies, and Retry-After waits.
- Huge bodies: an error message stays short, a huge error or answer is never read whole.
- A body longer than its ``Content-Length`` does not poison the pooled connection.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from typing import Any

import pytest

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import (
    AgentRequest,
    APIResponseValidationError,
    APITimeoutError,
    InternalServerError,
    LyzrClient,
    Timeouts,
)
from lyzr_stream._http.limits import RetryPolicy
from lyzr_stream.emulator import Emulator
from tests.conftest import assert_pool_clean
from tests.helpers.hostile_servers import SMUGGLED, shared_hostile_server

AFTER_DONE = ["done-then-hold:30", "done-then-reset", "done-then-keepalive:30"]


def _hostile(em: Emulator, fault: str | None = None, **kw: Any) -> dict[str, Any]:
    headers = {"x-emulator-fault": fault} if fault else {}
    url = shared_hostile_server().url
    return {"api_key": em.api_key, "base_url": url, "default_headers": headers, **kw}


@pytest.mark.parametrize("fault", AFTER_DONE)
def test_streaming_invoke_returns_after_done(lyzr_emulator: Emulator, fault: str) -> None:
    model = ChatLyzr(agent_id="echo", streaming=True, **_hostile(lyzr_emulator, fault))
    message = model.invoke("hello there")
    assert message.text == "You said: hello there"
    assert message.response_metadata["finish_reason"] == "stop"


@pytest.mark.parametrize("fault", AFTER_DONE)
async def test_async_streaming_invoke_returns_after_done(
    lyzr_emulator: Emulator, fault: str
) -> None:
    model = ChatLyzr(agent_id="echo", streaming=True, **_hostile(lyzr_emulator, fault))
    message = await model.ainvoke("hello there")
    assert message.text == "You said: hello there"
    await model.client.aclose()


@pytest.mark.parametrize("fault", AFTER_DONE)
def test_framework_streams_keep_their_final_chunk(lyzr_emulator: Emulator, fault: str) -> None:
    kw = _hostile(lyzr_emulator, fault, timeout=Timeouts(read=5))
    chunks = list(ChatLyzr(agent_id="echo", **kw).stream("hi"))
    assert "".join(c.text for c in chunks) == "You said: hi"
    assert chunks[-1].response_metadata["finish_reason"] == "stop"
    assert chunks[-1].chunk_position == "last"
    responses = list(LyzrLLM(agent_id="echo", **kw).stream_complete("hi"))
    assert responses[-1].text == "You said: hi"
    assert responses[-1].additional_kwargs["finish_reason"] == "stop"


def test_a_finished_stream_keeps_its_connection_when_the_body_ends(
    lyzr_emulator: Emulator,
) -> None:
    # The bounded drain after [DONE] reads the chunked terminator: the connection is reused.
    with LyzrClient(**_hostile(lyzr_emulator)) as client:
        request = AgentRequest(agent_id="echo", message="one", session_id="reuse")
        for _ in range(3):
            assert client.stream(request).until_done().text == "You said: one"
        from tests.conftest import pool_connections

        assert len(pool_connections(client._sync_http())) == 1


# -- total, on every path ------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["drip:6", "drip-error:6"])
def test_total_bounds_a_dripped_one_shot_body(lyzr_emulator: Emulator, fault: str) -> None:
    kw = _hostile(lyzr_emulator, fault, timeout=Timeouts(read=5, total=1), max_retries=0)
    with LyzrClient(**kw) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            client.chat(AgentRequest(agent_id="echo", message="hi"))
        elapsed = time.monotonic() - started  # closing waits for the stop request, bounded
    assert info.value.kind == "total"
    assert elapsed < 3, "the dripped body was read to its end"


@pytest.mark.parametrize("surface", ["langchain", "llamaindex"])
async def test_total_bounds_a_dripped_one_shot_body_async(
    lyzr_emulator: Emulator, surface: str
) -> None:
    kw = _hostile(lyzr_emulator, "drip:6", timeout=Timeouts(read=5, total=1), max_retries=0)
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        if surface == "langchain":
            await ChatLyzr(agent_id="echo", **kw).ainvoke("hi")
        else:
            await LyzrLLM(agent_id="echo", **kw).acomplete("hi")
    assert info.value.kind == "total"
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("mode", ["stream", "chat", "achat"])
def test_retry_after_wait_never_overshoots_total(lyzr_emulator: Emulator, mode: str) -> None:
    headers = {"x-emulator-fault": "status:429:retry-after=5"}
    with LyzrClient(
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
        default_headers=headers,
        timeout=Timeouts(total=1),
    ) as client:
        request = AgentRequest(agent_id="echo", message="hi")
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            if mode == "stream":
                client.stream(request).until_done()
            elif mode == "chat":
                client.chat(request)
            else:
                asyncio.run(client.achat(request))
        elapsed = time.monotonic() - started
    assert info.value.kind == "total"
    assert 0.8 < elapsed < 2.5, f"total=1 fired after {elapsed:.2f} s"


def test_each_retry_gets_only_the_time_left(
    lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, error, **kw: 0.01)
    headers = {"x-emulator-fault": "delay-headers:3"}
    with LyzrClient(
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
        default_headers=headers,
        timeout=Timeouts(first_byte=0.6, total=1.0),
        max_retries=5,
        retry_unsafe=True,  # first-byte timeouts of an agent run are retried only then
    ) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            client.chat(AgentRequest(agent_id="echo", message="hi"))
    assert info.value.kind == "total"
    assert time.monotonic() - started < 2


# -- size caps on the one-shot route -------------------------------------------------------------
@pytest.mark.parametrize("fault", ["huge-error:50", "huge-text-error:300"])
@pytest.mark.parametrize("mode", ["chat", "achat", "stream"])
def test_huge_error_bodies_are_capped(lyzr_emulator: Emulator, fault: str, mode: str) -> None:
    kw = _hostile(lyzr_emulator, fault, max_retries=0)
    tracemalloc.start()
    with LyzrClient(**kw) as client:
        request = AgentRequest(agent_id="echo", message="hi")
        with pytest.raises(InternalServerError) as info:
            if mode == "chat":
                client.chat(request)
            elif mode == "achat":
                asyncio.run(client.achat(request))
            else:
                client.stream(request).until_done()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(str(info.value)) < 1000, "the error message carries the huge body"
    assert len(str(info.value.body)) <= 64 * 1024
    assert peak < 20_000_000, f"{peak} bytes held while reading a huge error body"


@pytest.mark.parametrize("mode", ["chat", "achat"])
def test_a_huge_one_shot_answer_is_refused_not_buffered(lyzr_emulator: Emulator, mode: str) -> None:
    kw = _hostile(lyzr_emulator, "huge-json:300", max_retries=0)
    tracemalloc.start()
    with LyzrClient(**kw) as client:
        request = AgentRequest(agent_id="echo", message="hi")
        with pytest.raises(APIResponseValidationError, match="max_event_bytes"):
            client.chat(request) if mode == "chat" else asyncio.run(client.achat(request))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 60_000_000, f"{peak} bytes held for a capped 8 MiB answer"


def test_a_big_detail_within_the_cap_is_cut_in_the_message(lyzr_emulator: Emulator) -> None:
    from lyzr_stream._errors import status_error

    error = status_error(500, {"content-type": "application/json"}, {"detail": "x" * 60_000})
    assert len(str(error)) < 1000


# -- a body longer than its Content-Length ---------------------------------------------------------
def test_overlong_body_does_not_poison_the_next_request(lyzr_emulator: Emulator) -> None:
    with LyzrClient(**_hostile(lyzr_emulator)) as client:
        first = client.chat(AgentRequest(agent_id="echo", message="hostile:overlong"))
        assert first.text == "You said: hostile:overlong"
        second = client.chat(AgentRequest(agent_id="echo", message="clean"))
        assert second.text == "You said: clean"
        assert SMUGGLED not in second.text
        assert_pool_clean(client._sync_http())


async def test_overlong_body_does_not_poison_the_next_request_async(
    lyzr_emulator: Emulator,
) -> None:
    async with LyzrClient(**_hostile(lyzr_emulator)) as client:
        first = await client.achat(AgentRequest(agent_id="echo", message="hostile:overlong"))
        assert first.text == "You said: hostile:overlong"
        second = await client.achat(AgentRequest(agent_id="echo", message="clean"))
        assert second.text == "You said: clean"
