"""Shared fixtures: the embedded emulator (a real server on loopback) and clients for it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lyzr_stream import LyzrClient

pytest_plugins = ["lyzr_stream.emulator.pytest_plugin"]

FAKE_KEY = "sk-lyzr-TEST-9f8e7d6c5b4a-DO-NOT-LEAK"


def pool_connections(client: httpx.Client | httpx.AsyncClient) -> list[object]:
    """The httpcore connections behind an httpx client (for leak checks)."""
    pool = client._transport._pool  # type: ignore[union-attr]
    return list(pool.connections)


def assert_pool_clean(client: httpx.Client | httpx.AsyncClient) -> None:
    """No connection is left mid-request: each is idle (reusable) or closed."""
    busy = [c for c in pool_connections(client) if not (c.is_idle() or c.is_closed())]  # type: ignore[attr-defined]
    assert not busy, f"connections still in use: {busy}"


def assert_async_pools_clean(client: LyzrClient) -> None:
    """Every async pool shard of the running loop is clean (see lyzr_stream._http.pools)."""
    for shard in client._async_pools().clients:
        assert_pool_clean(shard)


@pytest.fixture
def no_lyzr_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("LYZR_API_KEY", "LYZR_BASE_URL", "LYZR_USER_ID", "LYZR_AGENT_ID"):
        monkeypatch.delenv(name, raising=False)
    yield
