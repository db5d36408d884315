"""The stop request sent on early exit is bounded as a whole, against a raw-socket server: a
1 GiB reply (generated lazily by the server) is read only up to a small cap, and a reply that
drips (or drips, then stalls) ends the stop within its 2 s bound, leaving no thread or task.
"""

from __future__ import annotations

import asyncio
import threading
import time
import tracemalloc
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from lyzr_stream import AgentRequest, LyzrClient, TextDelta
from lyzr_stream._agent_stop import STOP_TIMEOUT
from tests.helpers.scripted_server import Reply, ScriptedServer, drip, repeat, sse

GIB = 1 << 30
STOP_PATH = "/v3/inference/session/"
#: The bound, plus scheduling slack.
WITHIN = STOP_TIMEOUT + 0.5


def _drip_then_stall() -> Iterator[bytes]:
    yield from drip(b"x", 0.1, 12)
    time.sleep(30)


REPLIES = {
    "1 GiB": lambda: Reply(200, "application/json", repeat(b"x" * 65536, GIB), length=GIB),
    "dripping": lambda: Reply(200, "application/json", drip(b"x", 0.1)),
    "dripping, then silent": lambda: Reply(200, "application/json", _drip_then_stall()),
}


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        # An answer that never ends: the caller leaves it early, which sends the stop.
        s.route("POST", "/v3/inference/stream/", Reply(200, "text/event-stream", _tokens()))
        yield s


def _tokens() -> Iterable[bytes]:
    return (sse("tok ") for _ in iter(int, 1))


def _request() -> AgentRequest:
    return AgentRequest(agent_id="a", message="hi", session_id="s-stop")


def _stop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lyzr-agent-stop" and t.is_alive()]


def _stop_seen(server: ScriptedServer) -> bool:
    return any(r.path.startswith(STOP_PATH) for r in server.requests)


@pytest.mark.parametrize("reply", list(REPLIES))
def test_sync_stop_reads_a_capped_body_and_ends_within_its_bound(
    server: ScriptedServer, reply: str
) -> None:
    server.route("POST", STOP_PATH, REPLIES[reply]())
    with LyzrClient(api_key="k", base_url=server.url) as client:
        tracemalloc.start()
        try:
            with client.stream(_request()) as stream:
                next(e for e in stream if isinstance(e, TextDelta))
            left = time.monotonic()
            assert _stop_threads(), "the stop went out on its thread"
            while _stop_threads() and time.monotonic() - left < 10:
                time.sleep(0.01)
            took = time.monotonic() - left
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert _stop_seen(server)
        assert not _stop_threads(), "a stop thread outlived its bound"
        assert took < WITHIN, f"the stop took {took:.2f} s"
        assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while stopping"
    if reply == "1 GiB":
        assert server.sent.get("/v3/inference/session/s-stop/stop", 0) < 64 * 1024 * 1024


class _RecordingSet(set[Any]):
    """A set that remembers everything ever added to it."""

    def __init__(self) -> None:
        super().__init__()
        self.added: list[Any] = []

    def add(self, item: Any) -> None:
        self.added.append(item)
        super().add(item)


@pytest.mark.parametrize("reply", list(REPLIES))
async def test_async_stop_reads_a_capped_body_and_ends_within_its_bound(
    server: ScriptedServer, reply: str
) -> None:
    server.route("POST", STOP_PATH, REPLIES[reply]())
    client = LyzrClient(api_key="k", base_url=server.url)
    # Record what goes to the background: a fast stop may be done before it could be seen.
    background = _RecordingSet()
    client._async_pools().background = background
    try:
        tracemalloc.start()
        try:
            async with client.astream(_request()) as stream:
                async for event in stream:
                    if isinstance(event, TextDelta):
                        break
            left = time.monotonic()
            assert background.added, "the stop went out as a background task"
            while background and time.monotonic() - left < 10:
                await asyncio.sleep(0.01)
            took = time.monotonic() - left
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert _stop_seen(server)
        assert not background, "a stop task outlived its bound"
        assert took < WITHIN, f"the stop took {took:.2f} s"
        assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while stopping"
    finally:
        await client.aclose()
