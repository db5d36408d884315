"""Functions run in worker processes by tests/adapters/test_scale_out.py (importable by spawn
children)."""

from __future__ import annotations

import os
from typing import Any


def invoke(model: Any, question: str) -> tuple[int, str, str]:
    """Use an unpickled model in this process: (pid, answer text, session id)."""
    message = model.invoke(question)
    return os.getpid(), message.text, message.response_metadata["session_id"]


def complete(llm: Any, prompt: str) -> tuple[int, str]:
    return os.getpid(), llm.complete(prompt).text


def stream_with(client: Any, message: str) -> str:
    from lyzr_stream import AgentRequest

    return client.stream(AgentRequest(agent_id="echo", message=message)).until_done().text


def stream_into(client: Any, message: str, results: Any) -> None:
    """In a forked child: use the parent's client object, report the answer."""
    results.put(stream_with(client, message))
