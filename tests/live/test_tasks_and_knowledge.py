"""Background tasks and knowledge-base retrieval.

A task is created and then completes (polled as lyzr-adk polls, every 2 s on the real
service); a retrieve on a given knowledge base returns chunks with text and score.
"""

from __future__ import annotations

import time

import pytest

from lyzr_stream import AgentRequest, LyzrClient
from lyzr_stream.emulator import Emulator

from .contract import Target
from .support import agent_of, new_client

_FINAL = ("completed", "failed")


@pytest.mark.live(item="tasks", runs=1, needs=("agent",))
def test_a_task_is_created_and_completes(
    target: Target, client: LyzrClient, emulator: Emulator | None
) -> None:
    request = AgentRequest(agent_id=agent_of(target, "agent"), message="Say hello in one line.")
    info = client.create_task(request)
    assert isinstance(info.task_id, str) and info.task_id.strip()
    assert info.status
    poll = 0.05 if emulator is not None else 2.0  # lyzr-adk polls every 2 s
    deadline = time.monotonic() + (10.0 if emulator is not None else 180.0)
    status = client.get_task(info.task_id)
    while status.status not in _FINAL and time.monotonic() < deadline:
        time.sleep(poll)
        status = client.get_task(info.task_id)
    assert status.status == "completed", f"status {status.status!r}, error {status.error!r}"
    assert status.response is not None and status.response.text.strip()


@pytest.mark.live(item="knowledge-base", runs=0, needs=("rag",))
def test_a_retrieve_returns_chunks_with_text_and_score(target: Target) -> None:
    assert target.rag_id is not None
    with new_client(target, rag_base_url=target.rag_url) as client:
        chunks = client.retrieve(target.rag_id, "What is this knowledge base about?", top_k=3)
    assert chunks, "the retrieve returned no chunk"
    assert len(chunks) <= 3
    for chunk in chunks:
        assert isinstance(chunk.text, str) and chunk.text.strip()
        assert isinstance(chunk.score, int | float) and 0.0 <= chunk.score <= 1.0
