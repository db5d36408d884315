"""Background tasks over sockets: ``create_task`` / ``get_task`` / ``run_task`` (and the
``task_updates`` they share), sync and async, against the emulator's task routes."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pytest

from lyzr_stream import (
    AgentError,
    AgentRequest,
    AgentResponse,
    APITimeoutError,
    InvalidRequestError,
    LyzrClient,
    NotFoundError,
    TaskFailedError,
    TaskInfo,
    TaskStatus,
    ToolSpec,
)
from lyzr_stream.emulator import Emulator
from tests.helpers.clients import make_client, req

TASK = "/v3/inference/task/"
FAST = 0.01


def _creates(em: Emulator) -> list[Any]:
    return [r for r in em.requests if r.method == "POST" and r.path == TASK]


def _polls(em: Emulator) -> list[Any]:
    return [r for r in em.requests if r.method == "GET" and r.path.startswith(TASK)]


# -- create and poll -------------------------------------------------------------------------------
def test_create_then_poll_from_pending_to_completed(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, default_headers={"x-emulator-task-polls": "2"}) as client:
        info = client.create_task(req(session_id="task-s1"))
        assert isinstance(info, TaskInfo)
        assert (info.status, info.session_id) == ("pending", "task-s1")
        assert info.task_id and info.created_at
        first, second = client.get_task(info.task_id), client.get_task(info.task_id)
        assert [first.status, second.status] == ["processing", "processing"]
        assert not first.done and first.response is None and first.progress == 33
        last = client.get_task(info.task_id)
        # Polling an ended task again changes nothing.
        again = client.get_task(info.task_id)
    assert isinstance(last, TaskStatus) and last.done and last.status == "completed"
    assert isinstance(last.response, AgentResponse)
    assert last.response.text == "You said: hello world"
    assert last.response.session_id == "task-s1"
    assert last.response.agent_id == "echo"
    assert again.response is not None and again.response.text == last.response.text
    assert lyzr_emulator.tasks[0]["task_id"] == info.task_id
    assert lyzr_emulator.tasks[0]["status"] == "completed"


def test_the_create_body_is_the_chat_body(lyzr_emulator: Emulator) -> None:
    request = req(
        "vars",
        session_id="task-body",
        user_id="u1",
        system_prompt_variables={"tone": "dry"},
        extra_body={"provider_overrides": {"search": "cred-1"}},
    )
    with make_client(lyzr_emulator) as client:
        client.chat(request)
        response = client.run_task(request, poll_interval=FAST)
    chat_body = next(r.json for r in lyzr_emulator.requests if r.path == "/v3/inference/chat/")
    (create,) = _creates(lyzr_emulator)
    assert create.json == chat_body
    assert create.json["system_prompt_variables"] == {"tone": "dry"}
    assert create.json["provider_overrides"] == {"search": "cred-1"}
    assert create.headers["x-api-key"] == lyzr_emulator.api_key
    assert 'system_prompt_variables={"tone": "dry"}' in response.text


def test_a_task_writes_the_session_memory_like_a_chat(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator) as client:
        client.run_task(req(session_id="task-mem", message="first"), poll_interval=FAST)
        history = client.session_history("task-mem")
        answer = client.run_task(
            req("memory", session_id="task-mem", message="second"), poll_interval=FAST
        )
    assert [(m.role, m.content) for m in history] == [
        ("user", "first"),
        ("assistant", "You said: first"),
    ]
    assert answer.text == "Earlier you said: first"


def test_get_task_by_id_alone_names_the_run(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, default_headers={"x-emulator-task-polls": "0"}) as client:
        info = client.create_task(req(session_id="task-alone"))
    with make_client(lyzr_emulator) as other:  # a process that only knows the id
        status = other.get_task(info.task_id)
    assert status.response is not None
    assert (status.response.session_id, status.response.agent_id) == ("task-alone", "echo")


# -- run_task --------------------------------------------------------------------------------------
def test_run_task_polls_until_the_answer(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, default_headers={"x-emulator-task-polls": "3"}) as client:
        response = client.run_task(req(session_id="task-run"), poll_interval=FAST)
    assert response.text == "You said: hello world"
    assert len(_creates(lyzr_emulator)) == 1
    assert len(_polls(lyzr_emulator)) == 4
    assert lyzr_emulator.stop_requests == []


async def test_arun_task_polls_until_the_answer(lyzr_emulator: Emulator) -> None:
    async with make_client(lyzr_emulator, default_headers={"x-emulator-task-polls": "2"}) as client:
        info = await client.acreate_task(req(session_id="task-a0"))
        status = await client.aget_task(info.task_id)
        response = await client.arun_task(req(session_id="task-a1"), poll_interval=FAST)
    assert status.status == "processing"
    assert response.text == "You said: hello world"
    assert response.session_id == "task-a1"
    assert len(_creates(lyzr_emulator)) == 2


def test_task_updates_report_each_poll(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, default_headers={"x-emulator-task-polls": "2"}) as client:
        updates = list(client.task_updates(req(), poll_interval=FAST))
    assert [u.status for u in updates] == ["processing", "processing", "completed"]
    assert [u.progress for u in updates] == [33, 67, 100]
    assert updates[-1].response is not None


def test_the_poll_interval_is_kept(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, default_headers={"x-emulator-task-polls": "2"}) as client:
        started = time.monotonic()
        client.run_task(req(), poll_interval=0.15)
        elapsed = time.monotonic() - started
    assert elapsed >= 0.45  # three polls, each after the interval


# -- failures --------------------------------------------------------------------------------------
def test_a_failed_task_raises_an_agent_error_with_its_reason_and_id(
    lyzr_emulator: Emulator,
) -> None:
    with make_client(lyzr_emulator) as client, pytest.raises(TaskFailedError) as caught:
        client.run_task(req("fail-midway"), poll_interval=FAST)
    error = caught.value
    assert isinstance(error, AgentError)
    assert error.reason == "Agent crashed midway"
    assert error.task_id == lyzr_emulator.tasks[0]["task_id"]
    assert "Agent crashed midway" in str(error) and error.task_id in str(error)
    assert lyzr_emulator.stop_requests == []  # the run ended: nothing to stop


async def test_a_failed_task_raises_async(lyzr_emulator: Emulator) -> None:
    async with make_client(lyzr_emulator) as client:
        with pytest.raises(TaskFailedError, match="Agent crashed midway"):
            await client.arun_task(req("fail-midway"), poll_interval=FAST)
        info = await client.acreate_task(req("fail-midway"))
        status = await client.aget_task(info.task_id)
        status = await client.aget_task(info.task_id)
    assert status.failed and status.done and status.error == "Agent crashed midway"
    assert status.response is None


def test_a_timeout_leaves_the_task_running_to_resume(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-task-polls": "1000"}
    with make_client(lyzr_emulator, default_headers=headers) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            client.run_task(req(session_id="task-late"), poll_interval=0.05, timeout=0.3)
        elapsed = time.monotonic() - started
        error = caught.value
        assert error.kind == "task" and error.may_have_run
        task_id = error.task_id
        assert task_id is not None and task_id == lyzr_emulator.tasks[0]["task_id"]
        assert task_id in str(error)
        status = client.get_task(task_id)
    assert 0.3 <= elapsed < 2.0
    assert status.status == "processing"
    assert lyzr_emulator.stop_requests == []  # a wait that ends is not a stop
    assert len(_creates(lyzr_emulator)) == 1


async def test_an_async_timeout_carries_the_task_id(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-task-polls": "1000"}
    async with make_client(lyzr_emulator, default_headers=headers) as client:
        with pytest.raises(APITimeoutError) as caught:
            await client.arun_task(req(), poll_interval=0.05, timeout=0.2)
        assert caught.value.task_id is not None
        status = await client.aget_task(caught.value.task_id)
    assert status.status == "processing"


def test_a_transient_poll_failure_is_retried_and_the_task_created_once(
    lyzr_emulator: Emulator,
) -> None:
    headers = {"x-emulator-poll-fault": "fail-first:2:503", "x-emulator-task-polls": "1"}
    with make_client(lyzr_emulator, default_headers=headers) as client:
        response = client.run_task(req(), poll_interval=FAST)
    assert response.text == "You said: hello world"
    assert len(_creates(lyzr_emulator)) == 1
    assert len(_polls(lyzr_emulator)) == 4  # two refused polls retried, then two answered


async def test_a_transient_poll_failure_is_retried_async(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-poll-fault": "fail-first:1:502"}
    async with make_client(lyzr_emulator, default_headers=headers) as client:
        response = await client.arun_task(req(), poll_interval=FAST)
    assert response.text == "You said: hello world"
    assert len(_creates(lyzr_emulator)) == 1


def test_a_failed_create_is_not_retried(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-fault": "fail-first:1:500"}
    with make_client(lyzr_emulator, default_headers=headers) as client, pytest.raises(
        AgentError
    ):
        client.run_task(req(session_id="task-500"), poll_interval=FAST)
    assert len(_creates(lyzr_emulator)) == 1
    assert _polls(lyzr_emulator) == []
    assert lyzr_emulator.stop_requests == []  # no task was made


def test_a_create_refused_before_it_started_is_retried(lyzr_emulator: Emulator) -> None:
    # 503 with Retry-After: provably no run started, so the create is sent again (once).
    headers = {"x-emulator-fault": "fail-first:1:503:retry-after=0"}
    with make_client(lyzr_emulator, default_headers=headers) as client:
        response = client.run_task(req(session_id="task-503"), poll_interval=FAST)
    assert response.text == "You said: hello world"
    assert len(_creates(lyzr_emulator)) == 2
    assert len(lyzr_emulator.tasks) == 1


def test_an_unknown_task_is_not_found(client: LyzrClient) -> None:
    with pytest.raises(NotFoundError):
        client.get_task("task-does-not-exist")


def test_the_emulator_reset_forgets_the_tasks(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator) as client:
        info = client.create_task(req())
        assert [t["task_id"] for t in lyzr_emulator.tasks] == [info.task_id]
        lyzr_emulator.reset()
        assert lyzr_emulator.tasks == []
        with pytest.raises(NotFoundError):
            client.get_task(info.task_id)


# -- leaving early stops the run -------------------------------------------------------------------
def test_leaving_the_updates_early_stops_the_session(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-task-polls": "1000"}
    with make_client(lyzr_emulator, default_headers=headers) as client:
        updates = client.task_updates(req(session_id="task-leave"), poll_interval=FAST)
        for status in updates:
            assert status.status == "processing"
            break
        updates.close()
        client.close()  # waits for the stop in flight
    assert lyzr_emulator.stop_requests == ["task-leave"]


def test_ctrl_c_while_waiting_stops_the_session(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-task-polls": "1000"}
    with make_client(lyzr_emulator, default_headers=headers) as client:
        updates = client.task_updates(req(session_id="task-ctrl-c"), poll_interval=FAST)
        next(updates)
        with pytest.raises(KeyboardInterrupt):
            updates.throw(KeyboardInterrupt())
        client.close()
    assert lyzr_emulator.stop_requests == ["task-ctrl-c"]
    with make_client(lyzr_emulator) as client:
        status = client.get_task(lyzr_emulator.tasks[0]["task_id"])
    assert status.failed and status.error == "the run was stopped"


async def test_cancelling_arun_task_stops_the_session(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-task-polls": "1000"}
    async with make_client(lyzr_emulator, default_headers=headers) as client:
        running = asyncio.create_task(
            client.arun_task(req(session_id="task-cancel"), poll_interval=FAST)
        )
        while len(_polls(lyzr_emulator)) < 2:
            await asyncio.sleep(0.01)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert lyzr_emulator.stop_requests == ["task-cancel"]


def test_no_stop_without_stop_on_exit(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-task-polls": "1000"}
    with make_client(lyzr_emulator, default_headers=headers, stop_on_exit=False) as client:
        updates = client.task_updates(req(), poll_interval=FAST)
        next(updates)
        updates.close()
    assert lyzr_emulator.stop_requests == []


# -- bad input: refused before anything is sent ----------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": -1.0}, "poll_interval"),
        ({"poll_interval": math.nan}, "poll_interval"),
        ({"poll_interval": math.inf}, "poll_interval"),
        ({"poll_interval": True}, "poll_interval"),
        ({"poll_interval": "2"}, "poll_interval"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -5}, "timeout"),
        ({"timeout": math.nan}, "timeout"),
        ({"timeout": "10"}, "timeout"),
    ],
)
def test_bad_waits_are_refused(
    lyzr_emulator: Emulator, kwargs: dict[str, Any], named: str
) -> None:
    with make_client(lyzr_emulator) as client:
        with pytest.raises(InvalidRequestError, match=named):
            client.run_task(req(), **kwargs)
        with pytest.raises(InvalidRequestError, match=named):
            client.task_updates(req(), **kwargs)
        with pytest.raises(InvalidRequestError, match=named):
            asyncio.run(client.arun_task(req(), **kwargs))
    assert lyzr_emulator.requests == []


@pytest.mark.parametrize("task_id", ["", "   ", None, 5, ".."])
def test_bad_task_ids_are_refused(lyzr_emulator: Emulator, task_id: Any) -> None:
    with make_client(lyzr_emulator) as client:
        with pytest.raises(InvalidRequestError, match="task_id"):
            client.get_task(task_id)
        with pytest.raises(InvalidRequestError, match="task_id"):
            asyncio.run(client.aget_task(task_id))
    assert lyzr_emulator.requests == []


def test_local_tools_are_refused(lyzr_emulator: Emulator) -> None:
    tool = ToolSpec(name="add", description="adds", parameters={"type": "object"})
    with make_client(lyzr_emulator) as client, pytest.raises(InvalidRequestError, match="tools"):
        client.create_task(req(tools=(tool,)))
    assert lyzr_emulator.requests == []


def test_a_dialect_without_tasks_is_refused(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, dialect="lyzr-v2") as client:
        for call in (
            lambda: client.create_task(req()),
            lambda: client.run_task(req()),
            lambda: client.get_task("t1"),
        ):
            with pytest.raises(InvalidRequestError, match=r"background tasks.*lyzr-v2"):
                call()
    assert lyzr_emulator.requests == []


def test_a_closed_client_refuses_tasks(lyzr_emulator: Emulator) -> None:
    client = make_client(lyzr_emulator)
    client.close()
    with pytest.raises(InvalidRequestError, match="closed"):
        client.run_task(AgentRequest(agent_id="echo", message="hi"))
