"""Stop on early exit: leaving a v3 stream before its end asks the service to stop the agent.

On every surface (core, ChatLyzr, LyzrLLM; sync and async): a stream left early (break, task
cancellation, a stop sequence, a total timeout) leads to exactly one
``POST /v3/inference/session/{id}/stop`` for that session within 2 s; a normal end, a server
error or ``stop_on_exit=False`` lead to none. The emulator records the stops and ends the
running answer.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import (
    AgentRequest,
    APITimeoutError,
    InternalServerError,
    LyzrClient,
    LyzrError,
    StreamInterruptedError,
    TextDelta,
    Timeouts,
)
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.agent_events import events_url_of

SLOW = {"x-emulator-token-delay": "0.05"}
#: The checkout, first on a subprocess's path (its code, not an installed copy).
ROOT = str(Path(__file__).resolve().parents[2])
SURFACES = ["core", "langchain", "llamaindex"]


def _session() -> str:
    return f"stop-{uuid.uuid4().hex[:12]}"


def _wait_for_stops(em: Emulator, session: str, within: float = 2.0) -> int:
    """Stops recorded for ``session`` once one arrived (or ``within`` seconds passed)."""
    until = time.monotonic() + within
    while time.monotonic() < until:
        if session in em.stop_requests:
            break
        time.sleep(0.01)
    time.sleep(0.05)  # a second (duplicate) stop would be right behind the first
    return em.stop_requests.count(session)


def _kwargs(em: Emulator, **extra: Any) -> dict[str, Any]:
    return {"api_key": em.api_key, "base_url": em.base_url, "default_headers": SLOW, **extra}


def _texts(
    surface: str, em: Emulator, agent: str, session: str, **extra: Any
) -> tuple[LyzrClient, Iterator[str]]:
    kw = _kwargs(em, **extra)
    if surface == "core":
        client = LyzrClient(**kw)

        def core() -> Iterator[str]:
            request = AgentRequest(agent_id=agent, message="go", session_id=session)
            with client.stream(request) as stream:
                for event in stream:
                    if isinstance(event, TextDelta):
                        yield event.text

        return client, core()
    if surface == "langchain":
        model = ChatLyzr(agent_id=agent, session_id=session, **kw)
        return model.client, (c.text for c in model.stream("go"))
    llm = LyzrLLM(agent_id=agent, session_id=session, **kw)
    return llm.client, (r.delta or "" for r in llm.stream_complete("go"))


async def _atexts(
    surface: str, em: Emulator, agent: str, session: str, **extra: Any
) -> tuple[LyzrClient, AsyncIterator[str]]:
    kw = _kwargs(em, **extra)
    if surface == "core":
        client = LyzrClient(**kw)

        async def core() -> AsyncIterator[str]:
            request = AgentRequest(agent_id=agent, message="go", session_id=session)
            async with client.astream(request) as stream:
                async for event in stream:
                    if isinstance(event, TextDelta):
                        yield event.text

        return client, core()
    if surface == "langchain":
        model = ChatLyzr(agent_id=agent, session_id=session, **kw)

        async def lc() -> AsyncIterator[str]:
            async for chunk in model.astream("go"):
                yield chunk.text

        return model.client, lc()
    llm = LyzrLLM(agent_id=agent, session_id=session, **kw)

    async def li() -> AsyncIterator[str]:
        async for response in await llm.astream_complete("go"):
            yield response.delta or ""

    return llm.client, li()


@pytest.mark.parametrize("surface", SURFACES)
def test_break_sends_one_stop(lyzr_emulator: Emulator, surface: str) -> None:
    session = _session()
    client, texts = _texts(surface, lyzr_emulator, "long-200", session)
    for _ in texts:
        break
    texts.close()  # type: ignore[attr-defined]
    assert _wait_for_stops(lyzr_emulator, session) == 1
    client.close()
    assert lyzr_emulator.stop_requests.count(session) == 1


@pytest.mark.parametrize("surface", SURFACES)
async def test_async_break_sends_one_stop(lyzr_emulator: Emulator, surface: str) -> None:
    session = _session()
    client, texts = await _atexts(surface, lyzr_emulator, "long-200", session)
    async for _ in texts:
        break
    await texts.aclose()  # type: ignore[attr-defined]
    await asyncio.to_thread(_wait_for_stops, lyzr_emulator, session)
    await client.aclose()
    assert lyzr_emulator.stop_requests.count(session) == 1


@pytest.mark.parametrize("surface", SURFACES)
async def test_task_cancel_sends_one_stop(lyzr_emulator: Emulator, surface: str) -> None:
    session = _session()
    client, texts = await _atexts(surface, lyzr_emulator, "long-200", session)
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in texts:
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await texts.aclose()  # type: ignore[attr-defined]
    assert await asyncio.to_thread(_wait_for_stops, lyzr_emulator, session) == 1
    await client.aclose()


@pytest.mark.parametrize("surface", SURFACES)
def test_normal_end_sends_no_stop(lyzr_emulator: Emulator, surface: str) -> None:
    session = _session()
    client, texts = _texts(surface, lyzr_emulator, "echo", session)
    assert "".join(texts) == "You said: go"
    client.close()  # waits for any stop in flight
    assert session not in lyzr_emulator.stop_requests


@pytest.mark.parametrize("surface", SURFACES)
async def test_async_normal_end_sends_no_stop(lyzr_emulator: Emulator, surface: str) -> None:
    session = _session()
    client, texts = await _atexts(surface, lyzr_emulator, "echo", session)
    assert "".join([t async for t in texts]) == "You said: go"
    await client.aclose()  # waits for any stop in flight
    assert session not in lyzr_emulator.stop_requests


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize(
    ("fault", "error"),
    [("status:500", InternalServerError), ("drop-after:3", StreamInterruptedError)],
)
def test_server_error_sends_no_stop(
    lyzr_emulator: Emulator, surface: str, fault: str, error: type[LyzrError]
) -> None:
    session = _session()
    headers = {**SLOW, "x-emulator-fault": fault}
    client, texts = _texts(
        surface, lyzr_emulator, "long-20", session, default_headers=headers, max_retries=0
    )
    with pytest.raises(error):
        list(texts)
    client.close()
    assert session not in lyzr_emulator.stop_requests


@pytest.mark.parametrize("surface", SURFACES)
async def test_agent_error_sends_no_stop(lyzr_emulator: Emulator, surface: str) -> None:
    session = _session()
    client, texts = await _atexts(surface, lyzr_emulator, "fail-midway", session)
    with pytest.raises(LyzrError):
        async for _ in texts:
            pass
    await client.aclose()
    assert session not in lyzr_emulator.stop_requests


@pytest.mark.parametrize("surface", SURFACES)
def test_stop_on_exit_false_sends_none(lyzr_emulator: Emulator, surface: str) -> None:
    session = _session()
    client, texts = _texts(surface, lyzr_emulator, "long-200", session, stop_on_exit=False)
    for _ in texts:
        break
    texts.close()  # type: ignore[attr-defined]
    client.close()
    assert session not in lyzr_emulator.stop_requests


@pytest.mark.parametrize("surface", SURFACES)
def test_total_timeout_sends_one_stop(lyzr_emulator: Emulator, surface: str) -> None:
    session = _session()
    client, texts = _texts(surface, lyzr_emulator, "long-200", session, timeout=Timeouts(total=0.4))
    with pytest.raises(APITimeoutError) as info:
        list(texts)
    assert info.value.kind == "total"
    assert _wait_for_stops(lyzr_emulator, session) == 1
    client.close()


def test_stop_sequence_sends_one_stop(lyzr_emulator: Emulator) -> None:
    # Frameworks apply stop sequences client-side and leave the stream there: an early exit.
    session = _session()
    model = ChatLyzr(
        agent_id="long-200", session_id=session, stop=[" w3"], **_kwargs(lyzr_emulator)
    )
    text = "".join(chunk.text for chunk in model.stream("go"))
    assert text == "w0 w1 w2"
    assert _wait_for_stops(lyzr_emulator, session) == 1
    model.client.close()


def test_stop_path_is_percent_encoded(lyzr_emulator: Emulator) -> None:
    session = f"a b?c#d-{uuid.uuid4().hex[:6]}"
    with LyzrClient(**_kwargs(lyzr_emulator)) as client:
        request = AgentRequest(agent_id="long-200", message="go", session_id=session)
        with client.stream(request) as stream:
            next(iter(stream))
    assert lyzr_emulator.stop_requests.count(session) == 1
    assert lyzr_emulator.state.stop_headers[-1]["x-api-key"] == lyzr_emulator.api_key


def test_emulator_stop_ends_the_running_answer(lyzr_emulator: Emulator) -> None:
    session = _session()
    with LyzrClient(**_kwargs(lyzr_emulator), max_retries=0) as client:
        request = AgentRequest(agent_id="long-200", message="go", session_id=session)
        received = []
        with pytest.raises(StreamInterruptedError), client.stream(request) as stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    received.append(event.text)
                    if len(received) == 2:
                        httpx.post(
                            f"{lyzr_emulator.base_url}/v3/inference/session/{session}/stop",
                            headers={"x-api-key": lyzr_emulator.api_key},
                        ).raise_for_status()
        assert len(received) < 10, "the answer went on after the stop"
    denied = httpx.post(f"{lyzr_emulator.base_url}/v3/inference/session/{session}/stop")
    assert denied.status_code == 401


def test_a_late_stop_never_stops_the_next_turn(lyzr_emulator: Emulator) -> None:
    # The next request of the session waits for the stop still in flight: arriving after the
    # new answer started, it would stop that one instead.
    session = _session()
    with LyzrClient(**_kwargs(lyzr_emulator)) as client:
        for _ in range(5):
            request = AgentRequest(agent_id="long-200", message="go", session_id=session)
            with client.stream(request) as stream:
                next(iter(stream))
            again = AgentRequest(agent_id="long-5", message="go", session_id=session)
            assert client.stream(again).until_done().text == "w0 w1 w2 w3 w4"
    assert lyzr_emulator.stop_requests.count(session) == 5


async def test_a_late_stop_never_stops_the_next_turn_async(lyzr_emulator: Emulator) -> None:
    session = _session()
    async with LyzrClient(**_kwargs(lyzr_emulator)) as client:
        for _ in range(5):
            request = AgentRequest(agent_id="long-200", message="go", session_id=session)
            async with client.astream(request) as stream:
                await stream.__anext__()
            again = AgentRequest(agent_id="long-5", message="go", session_id=session)
            assert (await client.astream(again).until_done()).text == "w0 w1 w2 w3 w4"
    assert lyzr_emulator.stop_requests.count(session) == 5


# -- the stopper alone: best effort, its outcome only logged -------------------------------------
def _stopper(base_url: str, api_key: str = "k") -> Any:
    """A stopper sending the stop calls a client builds (the one request path)."""
    from lyzr_stream._agent_stop import AgentStopper

    client = LyzrClient(api_key=api_key, base_url=base_url, stop_on_exit=False)
    return AgentStopper(client._stop_call, httpx.Client)


def _unused_url() -> str:
    from lyzr_stream.emulator.front import unused_loopback_port

    return f"http://127.0.0.1:{unused_loopback_port()}"


def test_a_stop_is_logged_sent_or_failed_and_never_raises(
    lyzr_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="lyzr_stream")
    sent, failed = _stopper(lyzr_emulator.base_url, lyzr_emulator.api_key), _stopper(_unused_url())
    sent.stop("sync-ok")
    failed.stop("sync-refused")
    sent.close()
    failed.close()
    assert "stop for session sync-ok sent" in caplog.text
    assert "stop for session sync-refused failed (APIConnectionError)" in caplog.text


async def test_an_async_stop_is_logged_sent_or_failed_and_never_raises(
    lyzr_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    from lyzr_stream._http.pools import AsyncPools

    caplog.set_level("DEBUG", logger="lyzr_stream")
    pools = AsyncPools(httpx.AsyncClient, 1)
    _stopper(lyzr_emulator.base_url, lyzr_emulator.api_key).astop(pools, "async-ok")
    _stopper(_unused_url()).astop(pools, "async-refused")
    await pools.aclose()
    assert "stop for session async-ok sent" in caplog.text
    assert "stop for session async-refused failed (APIConnectionError)" in caplog.text


# -- an async stream left unfinished when asyncio.run's loop ends (#26 item 5) ------------------
#: User code, as written: an async for left by break, nothing closed, then asyncio.run ends.
_LOOP_END_SCRIPT = """
import asyncio, sys
from lyzr_stream import AgentRequest, LyzrClient
from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM

surface, base_url, api_key, session = sys.argv[1:5]
kw = dict(api_key=api_key, base_url=base_url,
          default_headers={"x-emulator-token-delay": "0.05"})

async def main():
    if surface == "core":
        client = LyzrClient(**kw)
        request = AgentRequest(agent_id="long-200", message="go", session_id=session)
        async for event in client.astream(request):
            break
    elif surface == "langchain":
        model = ChatLyzr(agent_id="long-200", session_id=session, **kw)
        async for chunk in model.astream("go"):
            break
    else:
        llm = LyzrLLM(agent_id="long-200", session_id=session, **kw)
        gen = await llm.astream_complete("go")
        async for response in gen:
            break

asyncio.run(main())
print("done")
"""


@pytest.mark.parametrize("agent_events", [False, True], ids=["answer-only", "agent-events"])
@pytest.mark.parametrize("surface", SURFACES)
def test_loop_end_after_async_break_sends_one_stop(
    lyzr_emulator: Emulator, surface: str, agent_events: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The loop's shutdown closes the stream (and the framework generators around it)
    concurrently; the stop still goes out once and nothing is logged as an error (before #26:
    LlamaIndex logged "aclose(): asynchronous generator is already running" and sent none; with
    the agent-events channel merged in, the merge itself did, until it closed at a yield
    without suspending)."""
    session = _session()
    events = (
        {"agent_events": True, "events_url": events_url_of(lyzr_emulator.base_url)}
        if agent_events
        else {}
    )
    client, texts = asyncio.run(_atexts(surface, lyzr_emulator, "long-200", session, **events))

    async def main() -> None:
        async for _ in texts:
            break

    caplog.set_level("WARNING", logger="asyncio")
    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 2.5  # the loop's end waits for the stop, bounded
    assert _wait_for_stops(lyzr_emulator, session) == 1
    assert [r for r in caplog.records if r.name == "asyncio"] == []
    client.close()


_SLOW_STEP = re.compile(r"Executing <.*> took [0-9.]+ seconds")


@pytest.mark.parametrize("surface", SURFACES)
def test_loop_end_after_async_break_in_dev_mode_is_quiet(
    lyzr_emulator: Emulator, surface: str
) -> None:
    """The same as a program run with ``-X dev`` and ResourceWarning as an error: one stop,
    nothing on stderr (no asyncgen warnings, no unclosed socket at exit)."""
    session = _session()
    dev = [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", _LOOP_END_SCRIPT]
    done = subprocess.run(
        [*dev, surface, lyzr_emulator.base_url, lyzr_emulator.api_key, session],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])},
    )
    # Dev mode turns on asyncio's debug mode, which reports slow steps (imports on a busy
    # machine): those lines are timing, not warnings.
    stderr = [line for line in done.stderr.splitlines() if not _SLOW_STEP.fullmatch(line)]
    assert (done.returncode, done.stdout.strip(), stderr) == (0, "done", [])
    assert _wait_for_stops(lyzr_emulator, session) == 1
