"""An agent run is never repeated: a stream or a one-shot chat is re-sent only when it provably
did not start a run (connection never made; 429 or 503 with Retry-After). Counted on the
emulator's recorded requests, over real sockets."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import (
    AgentError,
    AgentFailedError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    LyzrClient,
    RateLimitError,
    Timeouts,
)
from lyzr_stream._http.limits import MAY_HAVE_RUN
from lyzr_stream.emulator import Emulator
from tests.helpers.clients import req

MODES = ["stream", "astream", "chat", "achat"]
#: A year no date can hold, and a number no float can: both are no hint at all.
ABSURD_RETRY_AFTER = ["Fri, 31 Dec 99999 23:59:59 GMT", "1e400", "99999999999999"]


def _client(em: Emulator, fault: str | None = None, **kw: Any) -> LyzrClient:
    headers = {"x-emulator-fault": fault} if fault else None
    return LyzrClient(api_key=em.api_key, base_url=em.base_url, default_headers=headers, **kw)


def _run(client: LyzrClient, mode: str, agent: str = "echo", session: str | None = None) -> Any:
    request = req(agent, session_id=session or f"s-{uuid.uuid4().hex[:8]}")

    async def go() -> Any:
        try:
            if mode == "astream":
                return await client.astream(request).until_done()
            return await client.achat(request)
        finally:
            await client.aclose()  # waits for a stop still in flight, bounded

    if mode == "stream":
        return client.stream(request).until_done()
    if mode == "chat":
        return client.chat(request)
    return asyncio.run(go())


def _agent_requests(em: Emulator) -> int:
    return sum(1 for r in em.requests if "/inference/" in r.path and not r.path.endswith("/stop"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_server_error_is_not_retried(lyzr_emulator: Emulator, mode: str, status: int) -> None:
    lyzr_emulator.reset()
    with _client(lyzr_emulator, f"status:{status}", max_retries=2) as client:
        with pytest.raises(InternalServerError) as info:
            _run(client, mode)
    assert _agent_requests(lyzr_emulator) == 1
    error = info.value
    assert error.may_have_run
    assert MAY_HAVE_RUN in str(error)
    assert isinstance(error, AgentFailedError) is (status == 500)


@pytest.mark.parametrize("mode", MODES)
def test_a_first_byte_timeout_is_not_retried_and_stops_the_agent(
    lyzr_emulator: Emulator, mode: str
) -> None:
    lyzr_emulator.reset()
    session = f"fb-{mode}-{uuid.uuid4().hex[:6]}"
    timeouts = Timeouts(first_byte=0.3)
    with _client(lyzr_emulator, "delay-headers:1.5", timeout=timeouts, max_retries=2) as client:
        with pytest.raises(APITimeoutError) as info:
            _run(client, mode, session=session)
        until = time.monotonic() + 3
        while session not in lyzr_emulator.stop_requests and time.monotonic() < until:
            time.sleep(0.02)
    assert info.value.kind == "first_byte" and info.value.may_have_run
    assert _agent_requests(lyzr_emulator) == 1
    assert lyzr_emulator.stop_requests.count(session) == 1, "the agent was not asked to stop"


@pytest.mark.parametrize("mode", MODES)
def test_a_refused_connection_is_retried(
    lyzr_emulator: Emulator, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lyzr_stream")
    client = LyzrClient(api_key="k" * 8, base_url=lyzr_emulator.refusing_url, max_retries=2)
    with pytest.raises(APIConnectionError) as info:
        _run(client, mode)
    assert not info.value.request_sent and not info.value.may_have_run
    assert MAY_HAVE_RUN not in str(info.value)
    assert sum("retrying" in r.getMessage() for r in caplog.records) == 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [429, 503])
def test_a_refusal_with_retry_after_is_retried(
    lyzr_emulator: Emulator, mode: str, status: int
) -> None:
    lyzr_emulator.reset()
    fault = f"fail-first:2:{status}:retry-after=0"
    with _client(lyzr_emulator, fault, max_retries=2) as client:
        assert _run(client, mode).text == "You said: hello world"
    assert _agent_requests(lyzr_emulator) == 3


@pytest.mark.parametrize("mode", ["stream", "chat"])
def test_a_503_without_retry_after_is_not_retried(lyzr_emulator: Emulator, mode: str) -> None:
    lyzr_emulator.reset()
    with _client(lyzr_emulator, "fail-first:2:503", max_retries=2) as client:
        with pytest.raises(InternalServerError) as info:
            _run(client, mode)
    assert _agent_requests(lyzr_emulator) == 1 and info.value.may_have_run


@pytest.mark.parametrize("mode", MODES)
def test_retry_unsafe_restores_retries_of_agent_runs(lyzr_emulator: Emulator, mode: str) -> None:
    lyzr_emulator.reset()
    fault = "fail-first:2:500"
    with _client(lyzr_emulator, fault, max_retries=2, retry_unsafe=True) as client:
        assert _run(client, mode).text == "You said: hello world"
    assert _agent_requests(lyzr_emulator) == 3


@pytest.mark.parametrize(
    "make",
    [
        lambda em, **kw: ChatLyzr(agent_id="echo", api_key=em.api_key, base_url=em.base_url, **kw),
        lambda em, **kw: LyzrLLM(agent_id="echo", api_key=em.api_key, base_url=em.base_url, **kw),
    ],
    ids=["ChatLyzr", "LyzrLLM"],
)
def test_the_models_take_the_rule_and_the_opt_in(
    lyzr_emulator: Emulator, make: Callable[..., Any]
) -> None:
    headers = {"x-emulator-fault": "fail-first:1:500"}
    for unsafe, sent in ((False, 1), (True, 2)):
        lyzr_emulator.reset()
        model = make(lyzr_emulator, default_headers=headers, retry_unsafe=unsafe)
        call = model.invoke if isinstance(model, ChatLyzr) else model.complete
        if unsafe:
            call("hi")
        else:
            with pytest.raises(AgentError):
                call("hi")
        assert _agent_requests(lyzr_emulator) == sent


def test_idempotent_calls_keep_their_retries(lyzr_emulator: Emulator) -> None:
    lyzr_emulator.reset()
    with _client(lyzr_emulator, "fail-first:2:500", max_retries=2) as client:
        assert client.session_history("never-used") == []
    assert len(lyzr_emulator.requests) == 3


@pytest.mark.parametrize("mode", MODES)
def test_an_agent_crash_is_an_agent_error_on_both_routes(
    lyzr_emulator: Emulator, mode: str
) -> None:
    with _client(lyzr_emulator, max_retries=2) as client:
        with pytest.raises(AgentError, match="Agent crashed midway") as info:
            _run(client, mode, agent="fail-midway")
    error = info.value
    assert error.may_have_run
    if mode.endswith("chat"):
        # The one-shot route answers 500: the same type, and still a 5xx status error.
        assert isinstance(error, AgentFailedError) and error.status_code == 500
    else:
        assert error.partial_text == "Partial answer"


@pytest.mark.parametrize("value", ABSURD_RETRY_AFTER)
@pytest.mark.parametrize("mode", MODES)
def test_an_absurd_retry_after_is_no_hint(lyzr_emulator: Emulator, mode: str, value: str) -> None:
    lyzr_emulator.reset()
    with _client(lyzr_emulator, f"status:429:retry-after={value}", max_retries=2) as client:
        with pytest.raises(RateLimitError) as info:
            _run(client, mode)
    assert info.value.retry_after is None
    assert _agent_requests(lyzr_emulator) == 1


@pytest.mark.parametrize("value", ABSURD_RETRY_AFTER)
def test_an_absurd_retry_after_on_an_idempotent_call_waits_by_backoff(
    lyzr_emulator: Emulator, value: str
) -> None:
    lyzr_emulator.reset()
    fault = f"status:503:retry-after={value}"
    started = time.monotonic()
    with _client(lyzr_emulator, fault, max_retries=2, timeout=Timeouts(total=5)) as client:
        with pytest.raises(APIStatusError):
            client.session_history("s")
    assert time.monotonic() - started < 4, "the absurd hint was waited for"
    assert len(lyzr_emulator.requests) == 3
