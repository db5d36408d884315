"""Answer a few hundred prompts on a Ray cluster, with ChatLyzr and with LyzrLLM.

What travels and what stays per worker:

- The model travels: each Ray actor receives the pickled ``ChatLyzr`` / ``LyzrLLM`` (its
  settings only: no key, no connections) and rebuilds it in its own process, where the key
  comes from the worker's environment (``LYZR_API_KEY``; here set through Ray's
  ``runtime_env``). Each worker opens its own connection pool.
- Concurrency is bounded per worker (``per_worker`` calls in flight in each actor), so the
  whole job never has more than ``workers * per_worker`` calls open against the service.
- Results come back complete and in the prompts' order; a prompt that fails becomes a row
  with its error, and the other rows go on.

Run it: ``python examples/ray_batch.py`` (offline against the embedded emulator unless
``LYZR_API_KEY`` and ``LYZR_AGENT_ID`` are set). Needs ``pip install ray``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ray


@dataclass(frozen=True)
class Row:
    """One prompt's outcome: ``answer`` or ``error`` (the exception's type and message)."""

    index: int
    prompt: str
    answer: str | None = None
    error: str | None = None


async def _ask(model: Any, prompt: str) -> str:
    """One answer from either framework's model."""
    if hasattr(model, "ainvoke"):  # LangChain: ChatLyzr
        message = await model.ainvoke(prompt)
        return str(message.text)
    response = await model.acomplete(prompt)  # LlamaIndex: LyzrLLM
    return str(response.text)


# I/O-bound: a worker mostly waits on the service, so it reserves half a CPU of the cluster.
@ray.remote(num_cpus=0.5)
class AgentWorker:
    """One model per worker process, built from the pickled one the driver sent."""

    def __init__(self, model: Any, per_worker: int) -> None:
        self._model = model
        self._per_worker = per_worker
        self._in_flight = 0
        self.peak = 0

    async def answer(self, items: Sequence[tuple[int, str]]) -> list[Row]:
        limit = asyncio.Semaphore(self._per_worker)

        async def one(index: int, prompt: str) -> Row:
            async with limit:
                self._in_flight += 1
                self.peak = max(self.peak, self._in_flight)
                try:
                    return Row(index, prompt, answer=await _ask(self._model, prompt))
                except Exception as exc:  # one failed prompt is one failed row
                    return Row(index, prompt, error=f"{type(exc).__name__}: {exc}")
                finally:
                    self._in_flight -= 1

        return list(await asyncio.gather(*(one(i, p) for i, p in items)))

    def peak_in_flight(self) -> int:
        """The most calls this worker had open at once."""
        return self.peak


def answer_all(
    model: Any,
    prompts: Sequence[str],
    *,
    workers: int = 2,
    per_worker: int = 8,
    peaks: list[int] | None = None,
) -> list[Row]:
    """Every prompt answered on ``workers`` Ray actors; rows in the prompts' order.

    ``peaks``, if given, receives each worker's highest number of calls in flight.
    """
    actors = [AgentWorker.remote(model, per_worker) for _ in range(workers)]  # type: ignore[attr-defined]
    numbered = list(enumerate(prompts))
    try:
        shards = ray.get(
            [actor.answer.remote(numbered[w::workers]) for w, actor in enumerate(actors)]
        )
        if peaks is not None:
            peaks.extend(ray.get([actor.peak_in_flight.remote() for actor in actors]))
    finally:
        for actor in actors:
            ray.kill(actor)
    return sorted((row for shard in shards for row in shard), key=lambda row: row.index)


def main() -> None:
    from langchain_lyzr_stream import ChatLyzr
    from llamaindex_lyzr_stream import LyzrLLM

    emulator = None
    if os.environ.get("LYZR_API_KEY") and os.environ.get("LYZR_AGENT_ID"):
        agent_id, base_url, key = os.environ["LYZR_AGENT_ID"], None, os.environ["LYZR_API_KEY"]
    else:
        from lyzr_stream.emulator import Emulator

        emulator = Emulator().start()
        agent_id, base_url, key = "batch", emulator.base_url, emulator.api_key
    # The key reaches the workers through their environment, never inside a pickled model.
    own_cluster = not ray.is_initialized()  # else: a cluster this process already joined
    if own_cluster:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"LYZR_API_KEY": key}},
        )
    try:
        prompts = [f"question {i}" for i in range(200)] + ["please FAIL this one"]
        for model in (
            ChatLyzr(agent_id=agent_id, base_url=base_url, api_key=key),
            LyzrLLM(agent_id=agent_id, base_url=base_url, api_key=key),
        ):
            peaks: list[int] = []
            rows = answer_all(model, prompts, peaks=peaks)
            failed = [row for row in rows if row.error]
            print(
                f"{type(model).__name__}: {len(rows) - len(failed)} answered, {len(failed)} "
                f"failed; at most {peaks} calls in flight per worker"
            )
            print(f"  first: {rows[0].answer!r}")
            for row in failed:
                print(f"  row {row.index} failed: {row.error}")
    finally:
        if own_cluster:
            ray.shutdown()
        if emulator is not None:
            emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
