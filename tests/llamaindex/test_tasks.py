"""LyzrLLM with ``run_as_task=True``: every call a background task, its progress dispatched as
``LyzrAgentEvent``, its answer one response; early exit stops the session."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.tools import FunctionTool

from llamaindex_lyzr_stream import LyzrAgentEvent
from lyzr_stream import InvalidRequestError, TaskFailedError
from lyzr_stream.emulator import Emulator
from tests.llamaindex.conftest import EventRecorder, LLMFactory

TASK = "/v3/inference/task/"
POLLS = {"x-emulator-task-polls": "2"}
USER = [ChatMessage(role="user", content="hello")]


def _task_methods(em: Emulator) -> list[str]:
    return [r.method for r in em.requests if r.path.startswith(TASK)]


def _progress(recorder: EventRecorder) -> list[tuple[str | None, str | None, bool]]:
    return [
        (e.status, e.message, bool(e.session_id))
        for e in recorder.events
        if isinstance(e, LyzrAgentEvent) and e.event_type == "task_progress"
    ]


def test_complete_and_chat_run_tasks(
    make_llm: LLMFactory, lyzr_emulator: Emulator, recorder: EventRecorder
) -> None:
    llm = make_llm(
        run_as_task=True,
        task_poll_interval=0.01,
        default_headers=POLLS,
        session_id="li-task-1",
        system_prompt_variables={"tone": "dry"},
        extra_body={"provider_overrides": {"x": "y"}},
    )
    assert llm.complete("hi").text == "You said: hi"
    response = llm.chat(USER)
    assert response.message.content == "You said: hello"
    assert response.additional_kwargs["session_id"] == "li-task-1"
    assert _task_methods(lyzr_emulator) == ["POST", "GET", "GET", "GET"] * 2
    create = next(r for r in lyzr_emulator.requests if r.method == "POST")
    assert create.json["system_prompt_variables"] == {"tone": "dry"}
    assert create.json["provider_overrides"] == {"x": "y"}
    assert _progress(recorder) == [("processing", "33", True), ("processing", "67", True)] * 2


def test_stream_chat_yields_the_answer_once(
    make_llm: LLMFactory, lyzr_emulator: Emulator, recorder: EventRecorder
) -> None:
    llm = make_llm("long-20", run_as_task=True, task_poll_interval=0.01, default_headers=POLLS)
    responses = list(llm.stream_chat(USER))
    deltas = [r.delta for r in responses if r.delta]
    assert len(deltas) == 1 and deltas[0].endswith(" w19")
    assert responses[-1].message.content == deltas[0]
    assert len(_progress(recorder)) == 2
    assert "".join(r.delta or "" for r in llm.stream_complete("x")) == deltas[0]
    assert lyzr_emulator.stop_requests == []


async def test_astream_chat_and_achat_run_tasks(
    make_llm: LLMFactory, lyzr_emulator: Emulator, recorder: EventRecorder
) -> None:
    llm = make_llm(run_as_task=True, task_poll_interval=0.01, default_headers=POLLS)
    responses: list[Any] = [r async for r in await llm.astream_chat(USER)]
    assert responses[-1].message.content == "You said: hello"
    assert [r.delta for r in responses if r.delta] == ["You said: hello"]
    assert (await llm.achat(USER)).message.content == "You said: hello"
    assert (await llm.acomplete("yo")).text == "You said: yo"
    assert _task_methods(lyzr_emulator).count("POST") == 3
    assert len(_progress(recorder)) == 6


async def test_a_failed_task_raises(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm("fail-midway", run_as_task=True, task_poll_interval=0.01)
    with pytest.raises(TaskFailedError, match="Agent crashed midway"):
        llm.chat(USER)
    with pytest.raises(TaskFailedError):
        async for _ in await llm.astream_chat(USER):
            pass


def test_a_task_stream_closed_before_reading_sends_nothing(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm(run_as_task=True, task_poll_interval=0.01)
    stream = llm.stream_chat(USER)
    stream.close()
    llm.close()
    assert lyzr_emulator.requests == []
    assert lyzr_emulator.stop_requests == []


async def test_cancelling_astream_chat_stops_the_session(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm(
        run_as_task=True,
        task_poll_interval=0.01,
        session_id="li-task-cancel",
        default_headers={"x-emulator-task-polls": "1000"},
    )

    async def consume() -> None:
        async for _ in await llm.astream_chat(USER):
            pass

    running = asyncio.create_task(consume())
    while len(_task_methods(lyzr_emulator)) < 3:
        await asyncio.sleep(0.01)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await llm.aclose()
    assert lyzr_emulator.stop_requests == ["li-task-cancel"]


def test_tools_and_bad_fields_are_refused(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    llm = make_llm(run_as_task=True)
    with pytest.raises(InvalidRequestError, match="local tools"):
        llm.chat_with_tools([FunctionTool.from_defaults(add)], user_msg="1 + 2")
    for bad in (0, True, "2"):
        with pytest.raises(InvalidRequestError, match="poll_interval"):
            make_llm(task_poll_interval=bad)
    with pytest.raises(InvalidRequestError, match="run_as_task"):
        make_llm(run_as_task=True, dialect="aisquare")
    assert lyzr_emulator.requests == []
