"""Scale-out on a real local Ray cluster: examples/ray_batch.py with ChatLyzr and LyzrLLM.

One ``ray.init`` for the module (a local cluster of two CPUs takes a few seconds to start).
The workers get the key from their environment (Ray's ``runtime_env``), the models travel
pickled without it, and each worker answers its share with bounded concurrency.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream.emulator import Emulator

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install ray)")

# Ray itself (some versions) leaves its session's log files and helper processes to the garbage
# collector when ``ray.shutdown`` returns: not this package's leaks (see the suite's
# ResourceWarning rule in pyproject.toml).
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROMPTS = [f"question {i}" for i in range(240)]
FAILING = {17, 200}


@pytest.fixture(scope="module")
def ray_batch() -> Iterator[Any]:
    # Workers import the example module by name: they get the same search path as this process.
    search_path = os.pathsep.join([str(EXAMPLES), *sys.path])
    sys.path.insert(0, str(EXAMPLES))
    module = importlib.import_module("ray_batch")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": search_path, "LYZR_API_KEY": _EMULATOR_KEY}},
    )
    try:
        yield module
    finally:
        ray.shutdown()
        sys.path.remove(str(EXAMPLES))


_EMULATOR_KEY = Emulator().api_key


def _prompts() -> list[str]:
    return [f"{p} FAIL" if i in FAILING else p for i, p in enumerate(PROMPTS)]


def _check(rows: list[Any], emulator: Emulator) -> None:
    assert [row.index for row in rows] == list(range(len(PROMPTS)))  # complete, in order
    for row in rows:
        if row.index in FAILING:
            assert row.answer is None
            # A 500 of an agent run: AgentFailedError (an AgentError and an InternalServerError).
            assert row.error is not None and "AgentFailedError" in row.error
        else:
            assert row.error is None
            assert row.answer == f"You said: question {row.index}"
    # Every answer request carried the key the workers found in their environment.
    answers = [r for r in emulator.requests if r.path.startswith("/v3/inference/chat")]
    assert answers and all(r.headers["x-api-key"] == emulator.api_key for r in answers)


def test_chat_lyzr_answers_on_ray_workers(ray_batch: Any, lyzr_emulator: Emulator) -> None:
    model = ChatLyzr(
        agent_id="batch",
        base_url=lyzr_emulator.base_url,
        api_key=lyzr_emulator.api_key,
        max_retries=0,
    )
    peaks: list[int] = []
    rows = ray_batch.answer_all(model, _prompts(), workers=2, per_worker=8, peaks=peaks)
    _check(rows, lyzr_emulator)
    # Concurrency is bounded per worker, and the bound is reached (not switched off).
    assert len(peaks) == 2
    assert all(1 < peak <= 8 for peak in peaks)


def test_lyzr_llm_answers_on_ray_workers(ray_batch: Any, lyzr_emulator: Emulator) -> None:
    llm = LyzrLLM(
        agent_id="batch",
        base_url=lyzr_emulator.base_url,
        api_key=lyzr_emulator.api_key,
        max_retries=0,
    )
    rows = ray_batch.answer_all(llm, _prompts(), workers=2, per_worker=8)
    _check(rows, lyzr_emulator)


def test_the_example_runs(
    ray_batch: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The script's own main(), on the cluster this module started: embedded emulator, both
    models, 200 answers and one failed row each."""
    for name in ("LYZR_API_KEY", "LYZR_AGENT_ID", "LYZR_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    ray_batch.main()
    out = capsys.readouterr().out
    for name in ("ChatLyzr", "LyzrLLM"):
        assert f"{name}: 200 answered, 1 failed" in out
    assert "first: 'You said: question 0'" in out
