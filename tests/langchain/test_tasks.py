"""ChatLyzr with ``run_as_task=True``: every call a background task, its progress as
``lyzr_agent_event`` custom events, its answer one chunk; early exit stops the session."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tools import tool

from lyzr_stream import InvalidRequestError, TaskFailedError
from lyzr_stream.emulator import Emulator
from tests.langchain.conftest import ModelFactory

TASK = "/v3/inference/task/"
POLLS = {"x-emulator-task-polls": "2"}


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        if token:
            self.seen.append(("token", token))

    def on_custom_event(
        self, name: str, data: Any, *, run_id: UUID, tags: Any = None, **kwargs: Any
    ) -> None:
        self.seen.append((name, data))


def _task_paths(em: Emulator) -> list[str]:
    return [r.method for r in em.requests if r.path.startswith(TASK)]


def _progress(seen: list[tuple[str, Any]]) -> list[tuple[str, str | None]]:
    return [
        (d["status"], d["message"])
        for n, d in seen
        if n == "lyzr_agent_event" and d["type"] == "task_progress"
    ]


def test_invoke_runs_a_task(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    recorder = Recorder()
    model = make_model(
        run_as_task=True,
        task_poll_interval=0.01,
        default_headers=POLLS,
        session_id="lc-task-1",
        system_prompt_variables={"tone": "dry"},
        extra_body={"provider_overrides": {"x": "y"}},
    )
    message = model.invoke("hello", config={"callbacks": [recorder]})
    assert message.content == "You said: hello"
    assert message.response_metadata["session_id"] == "lc-task-1"
    assert message.response_metadata["total_time"] > 0
    assert _task_paths(lyzr_emulator) == ["POST", "GET", "GET", "GET"]
    (create,) = [r for r in lyzr_emulator.requests if r.method == "POST"]
    assert create.json["system_prompt_variables"] == {"tone": "dry"}
    assert create.json["provider_overrides"] == {"x": "y"}
    # The progress reaches the run's callbacks as the agent's events do.
    assert _progress(recorder.seen) == [("processing", "33"), ("processing", "67")]


def test_stream_gives_the_answer_as_one_chunk_after_the_progress(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    recorder = Recorder()
    model = make_model("long-30", run_as_task=True, task_poll_interval=0.01, default_headers=POLLS)
    chunks = list(model.stream("go", config={"callbacks": [recorder]}))
    texts = [c.text for c in chunks if c.text]
    assert len(texts) == 1 and texts[0].startswith("w0 w1") and texts[0].endswith(" w29")
    assert chunks[-1].chunk_position == "last"
    tokens = [i for i, (n, _) in enumerate(recorder.seen) if n == "token"]
    progress = [i for i, (n, _) in enumerate(recorder.seen) if n == "lyzr_agent_event"]
    assert len(tokens) == 1 and len(progress) == 2 and max(progress) < tokens[0]
    assert lyzr_emulator.stop_requests == []


async def test_astream_and_ainvoke_run_tasks(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model(run_as_task=True, task_poll_interval=0.01, default_headers=POLLS)
    seen: list[tuple[str, Any]] = []
    async for event in model.astream_events("hi", version="v2"):
        if event["event"] == "on_custom_event":
            seen.append((event["name"], event["data"]))
        elif event["event"] == "on_chat_model_stream" and event["data"]["chunk"].text:
            seen.append(("token", event["data"]["chunk"].text))
    assert seen[-1] == ("token", "You said: hi")
    assert _progress(seen) == [("processing", "33"), ("processing", "67")]
    message = await model.ainvoke("again")
    assert message.content == "You said: again"
    assert _task_paths(lyzr_emulator).count("POST") == 2


def test_stop_sequences_cut_the_task_answer(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model(run_as_task=True, task_poll_interval=0.01, stop=["said"])
    assert model.invoke("x").content == "You "
    assert "".join(c.text for c in model.stream("x")) == "You "


def test_a_failed_task_raises(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    model = make_model("fail-midway", run_as_task=True, task_poll_interval=0.01)
    with pytest.raises(TaskFailedError, match="Agent crashed midway"):
        model.invoke("x")
    with pytest.raises(TaskFailedError):
        list(model.stream("x"))


def test_leaving_a_task_stream_early_stops_the_session(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model(
        run_as_task=True,
        task_poll_interval=0.01,
        session_id="lc-task-leave",
        default_headers={"x-emulator-task-polls": "1000"},
    )
    recorder = Recorder()
    stream = model.stream("x", config={"callbacks": [recorder]})
    for _ in stream:  # the empty chunk that carries the first progress report
        break
    assert isinstance(stream, Generator)
    stream.close()
    model.close()  # waits for the stop in flight
    assert lyzr_emulator.stop_requests == ["lc-task-leave"]


async def test_cancelling_an_astream_stops_the_session(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model(
        run_as_task=True,
        task_poll_interval=0.01,
        session_id="lc-task-cancel",
        default_headers={"x-emulator-task-polls": "1000"},
    )

    async def consume() -> None:
        async for _ in model.astream("x"):
            pass

    running = asyncio.create_task(consume())
    while len(_task_paths(lyzr_emulator)) < 3:
        await asyncio.sleep(0.01)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await model.aclose()
    assert lyzr_emulator.stop_requests == ["lc-task-cancel"]


def test_tools_and_bad_fields_are_refused(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    model = make_model(run_as_task=True)
    with pytest.raises(InvalidRequestError, match="local tools"):
        model.bind_tools([add]).invoke("1 + 2")
    for bad in (0, -1.0, True, "2", float("nan")):
        with pytest.raises(InvalidRequestError, match="poll_interval"):
            make_model(task_poll_interval=bad)
    with pytest.raises(InvalidRequestError, match="run_as_task"):
        make_model(run_as_task=True, dialect="lyzr-v2")
    assert lyzr_emulator.requests == []
