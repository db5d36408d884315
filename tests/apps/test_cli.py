"""``lyzr-stream`` through a real pseudo-terminal (pexpect) and as a plain subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pexpect
import pytest

from lyzr_stream.emulator import DEMO_ANSWER, Emulator
from tests.helpers.cli import CLI, cli_env

pytestmark = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")


def _spawn(*args: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    """``lyzr-stream <args>`` in a pseudo-terminal."""
    return pexpect.spawn(CLI[0], [*CLI[1:], *args], env=env, encoding="utf-8", timeout=20)


@pytest.fixture
def chat(lyzr_emulator: Emulator) -> Iterator[pexpect.spawn]:
    lyzr_emulator.reset()
    child = _spawn(
        "chat", "--agent-id", "memory", "--session-id", "cli-session", env=cli_env(lyzr_emulator)
    )
    child.expect("you> ")
    yield child
    child.close(force=True)


def test_chat_keeps_the_session_and_prints_timing(
    chat: pexpect.spawn, lyzr_emulator: Emulator
) -> None:
    chat.sendline("first question")
    chat.expect("This is the start of our conversation.")
    chat.expect(r"\[first token \d+ ms, [\d.]+ tokens/s\]")
    chat.expect("you> ")
    chat.sendline("second question")
    chat.expect("Earlier you said: first question")
    chat.expect("you> ")
    sessions = {r.json["session_id"] for r in lyzr_emulator.requests}
    assert sessions == {"cli-session"}


def test_ctrl_c_stops_the_answer_and_keeps_the_session(
    chat: pexpect.spawn, lyzr_emulator: Emulator
) -> None:
    chat.sendline("/exit")  # replaced below: a slow agent needs its own process
    chat.expect(pexpect.EOF)
    child = _spawn(
        "chat", "--agent-id", "slow", "--session-id", "cli-ctrl-c", env=cli_env(lyzr_emulator)
    )
    try:
        child.expect("you> ")
        child.sendline("tell me about lyzr-stream")
        child.expect("agent> lyzr-stream")  # streaming has started
        child.sendintr()  # Ctrl-C mid-answer
        child.expect(r"\[stopped\]")
        child.expect("you> ")  # still running, same session
        child.sendline("again")
        child.expect("agent> lyzr-stream")
        child.sendintr()
        child.expect("you> ")
        child.sendeof()  # Ctrl-D leaves cleanly
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    sessions = {r.json["session_id"] for r in lyzr_emulator.requests}
    assert sessions == {"cli-ctrl-c"}
    # Each Ctrl-C also asked the service to stop the agent (stop on early exit).
    assert lyzr_emulator.stop_requests.count("cli-ctrl-c") == 2


def test_reasoning_and_server_tools_are_shown(lyzr_emulator: Emulator) -> None:
    child = _spawn("chat", "--agent-id", "reasoning", env=cli_env(lyzr_emulator))
    try:
        child.expect("you> ")
        child.sendline("why?")
        child.expect("think about it.")
        child.expect("The answer is 42.")
        child.expect("you> ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    chat_messages = _spawn(
        "chat", "--agent-id", "tools", "--dialect", "chat-messages", env=cli_env(lyzr_emulator)
    )
    try:
        chat_messages.expect("you> ")
        chat_messages.sendline("search please")
        chat_messages.expect(r"\[tool\] ")
        chat_messages.expect("you> ")
        chat_messages.sendeof()
    finally:
        chat_messages.close(force=True)


def test_key_prompt_does_not_echo(lyzr_emulator: Emulator) -> None:
    env = cli_env(lyzr_emulator)
    del env["LYZR_API_KEY"]
    child = _spawn("chat", "--agent-id", "echo", env=env)
    try:
        child.expect("Lyzr API key: ")
        child.sendline(lyzr_emulator.api_key)
        child.expect("you> ")
        assert lyzr_emulator.api_key not in (child.before or "")
        child.sendline("hi")
        child.expect("You said: hi")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_ask_prints_the_answer(lyzr_emulator: Emulator) -> None:
    done = subprocess.run(
        [*CLI, "ask", "--agent-id", "echo", "hello there"],
        env=cli_env(lyzr_emulator),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "You said: hello there\n"


def test_ask_json_and_stdin(lyzr_emulator: Emulator) -> None:
    done = subprocess.run(
        [*CLI, "ask", "--agent-id", "vars", "--var", "name=Ada", "--json", "-"],
        env=cli_env(lyzr_emulator),
        input="who am I?",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "Ada" in result["text"]
    assert result["session_id"] and result["time_to_first_token"] is not None


def test_ask_errors_go_to_stderr_with_exit_code(lyzr_emulator: Emulator) -> None:
    done = subprocess.run(
        [*CLI, "ask", "--agent-id", "no-such-agent", "hi"],
        env=cli_env(lyzr_emulator),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "NotFoundError" in done.stderr
    usage = subprocess.run(
        [*CLI, "ask", "hi"], env=cli_env(lyzr_emulator), capture_output=True, text=True, timeout=30
    )
    assert usage.returncode == 2 and "--agent-id" in usage.stderr


def test_ask_against_the_embedded_emulator_offline() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYZR_")}
    done = subprocess.run(
        [*CLI, "ask", "--emulator", "--agent-id", "demo", "hi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == DEMO_ANSWER + "\n"


def test_emulator_command_serves(tmp_path: object) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    child = _spawn("emulator", "--port", str(port))
    try:
        child.expect(f"listening on http://127.0.0.1:{port}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LYZR_")}
        env.update(LYZR_API_KEY="lyzr-emulator-key", LYZR_BASE_URL=f"http://127.0.0.1:{port}")
        done = subprocess.run(
            [*CLI, "ask", "--agent-id", "echo", "ping"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.stdout == "You said: ping\n"
        child.sendintr()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_chat_events_shows_server_tools_and_progress_as_they_happen(
    lyzr_emulator: Emulator,
) -> None:
    from lyzr_stream.emulator.agent_events import events_url_of

    env = cli_env(lyzr_emulator, LYZR_EVENTS_URL=events_url_of(lyzr_emulator.base_url))
    child = _spawn("chat", "--agent-id", "server-tools-5", "--events", env=env)
    try:
        child.expect("you> ")
        child.sendline("lyzr")
        child.expect(r"\[event\] process_start \(in_progress\): Processing request")
        child.expect(r"\[tool\] web_search\(\{\"query\": \"lyzr\"\}\)")
        child.expect(r"\[tool\] web_search -> ")
        child.expect(r"\[event\] kb_documents_retrieved")
        child.expect(r"\[tool\] Researcher -> ")
        child.expect("Here is what I found about lyzr")
        child.expect(r"\[event\] process_start \(completed, update\)")  # after the answer
        child.expect(r"\[event\] agent_process_end")
        child.expect(r"\[first token \d+ ms")
        child.expect("you> ")
        child.sendline("again")  # Ctrl-C while the agent is still running its tools
        child.expect(r"\[tool\] web_search\(")
        child.sendintr()
        child.expect(r"\[stopped\]")
        child.expect("you> ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


# -- background tasks and stop (issue 27) ----------------------------------------------------------
def _run(em: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=cli_env(em), capture_output=True, text=True, timeout=30
    )


def test_ask_task_prints_the_answer_of_a_background_task(lyzr_emulator: Emulator) -> None:
    done = _run(
        lyzr_emulator, "ask", "--task", "--poll-interval", "0.05", "--agent-id", "echo", "hi"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "You said: hi\n"
    paths = [(r.method, r.path) for r in lyzr_emulator.requests]
    assert paths[0] == ("POST", "/v3/inference/task/")
    assert paths.count(("POST", "/v3/inference/task/")) == 1
    assert "/v3/inference/stream/" not in {p for _, p in paths}
    assert [t["status"] for t in lyzr_emulator.tasks] == ["completed"]


def test_ask_task_json_and_a_failed_task(lyzr_emulator: Emulator) -> None:
    done = _run(
        lyzr_emulator,
        "ask", "--task", "--poll-interval", "0.05", "--json", "--agent-id", "echo",
        "--session-id", "cli-task", "hey",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["text"], result["session_id"]) == ("You said: hey", "cli-task")
    # the same fields as a streamed ask --json (one shape, _response_json), less the timings
    assert {"artifacts", "tool_activity", "message_id", "finish_reason"} <= set(result)
    failed = _run(
        lyzr_emulator, "ask", "--task", "--poll-interval", "0.05", "--agent-id", "fail-midway", "x"
    )
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert "TaskFailedError" in failed.stderr and "Agent crashed midway" in failed.stderr


def test_stop_sends_a_stop_for_the_session(lyzr_emulator: Emulator) -> None:
    done = _run(lyzr_emulator, "stop", "cli-stop-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "stop sent for session cli-stop-1\n"
    assert lyzr_emulator.stop_requests == ["cli-stop-1"]


def test_stop_errors_exit_1(lyzr_emulator: Emulator) -> None:
    no_route = _run(lyzr_emulator, "stop", "--dialect", "lyzr-v2", "s1")
    assert no_route.returncode == 1
    assert "InvalidRequestError" in no_route.stderr and "stop route" in no_route.stderr
    blank = _run(lyzr_emulator, "stop", " ")
    assert blank.returncode == 1 and "session_id" in blank.stderr
    env = {**cli_env(lyzr_emulator), "LYZR_API_KEY": "wrong-key-123456"}
    denied = subprocess.run(
        [*CLI, "stop", "s1"], env=env, capture_output=True, text=True, timeout=30
    )
    assert denied.returncode == 1 and "AuthenticationError" in denied.stderr
    assert lyzr_emulator.stop_requests == []
    usage = _run(lyzr_emulator, "stop")
    assert usage.returncode == 2 and "SESSION_ID" in usage.stderr
