"""Connection pools: connections reused, a pool per event loop, async pools sharded."""

from __future__ import annotations

import asyncio

from lyzr_stream import LyzrClient
from lyzr_stream.emulator import Emulator
from tests.conftest import assert_async_pools_clean
from tests.helpers.clients import make_client, req


def test_connections_are_reused(client: LyzrClient) -> None:
    for _ in range(5):
        client.chat(req())
        client.stream(req()).until_done()
    from tests.conftest import pool_connections

    assert len(pool_connections(client._sync_http())) == 1


def test_asyncio_run_twice_uses_a_pool_per_loop(client: LyzrClient) -> None:
    for _ in range(2):
        assert asyncio.run(client.achat(req())).text == "You said: hello world"


def test_shard_plan() -> None:
    from lyzr_stream._http.pools import shard_plan

    assert shard_plan(1) == (1, 1)
    assert shard_plan(64) == (1, 64)
    assert shard_plan(1000) == (16, 63)
    assert shard_plan(10_000) == (16, 625)


async def test_sequential_calls_stay_on_one_warm_connection(lyzr_emulator: Emulator) -> None:
    c = make_client(lyzr_emulator)
    for _ in range(5):
        assert (await c.astream(req()).until_done()).text == "You said: hello world"
    (shard,) = c._async_pools().clients
    from tests.conftest import pool_connections

    assert len(pool_connections(shard)) == 1
    await c.aclose()


async def test_overlapping_streams_spread_over_shards(lyzr_emulator: Emulator) -> None:
    c = make_client(
        lyzr_emulator, max_connections=128, default_headers={"x-emulator-token-delay": "0.01"}
    )

    async def one() -> str:
        return (await c.astream(req("long-20")).until_done()).text

    texts = await asyncio.gather(*(one() for _ in range(40)))
    assert set(texts) == {"".join(f" w{i}" if i else "w0" for i in range(20))}
    shards = c._async_pools().clients
    assert len(shards) == 2, "two shards for 128 connections, both used under overlap"
    assert_async_pools_clean(c)
    await c.aclose()
