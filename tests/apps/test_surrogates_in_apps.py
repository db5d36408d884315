"""A service that cuts a message inside an emoji (a lone surrogate, escaped) does not crash the
apps that encode what the core hands out: ``lyzr-stream ask --json``, ``chat --events``,
``history`` and the playground's event stream."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pexpect
import pytest
from pydantic import SecretStr

from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.agent_events import events_url_of
from lyzr_stream.playground import ModelSettings, PlaygroundConfig, PlaygroundServer, create_app
from tests.helpers.cli import CLI, cli_env
from tests.helpers.hostile_agents import AGENT, LONE
from tests.helpers.scripted_server import Reply, ScriptedServer

posix_only = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as em:
        yield em


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    # Bytes: whatever the command printed must be valid UTF-8.
    return subprocess.run([*CLI, *args], env=env, capture_output=True, timeout=60)


def test_ask_json_prints_every_field(emulator: Emulator) -> None:
    done = _run("ask", "--agent-id", AGENT, "--json", "hi", env=cli_env(emulator))
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    result = json.loads(done.stdout.decode("utf-8"))
    assert result["text"] == f"half {LONE} and more"
    assert result["reasoning"] == f"why {LONE}"
    assert f"meta {LONE}" in json.dumps(result["metadata"], ensure_ascii=False)


@posix_only
def test_chat_events_shows_every_event(emulator: Emulator) -> None:
    env = cli_env(emulator, LYZR_EVENTS_URL=events_url_of(emulator.base_url))
    child = pexpect.spawn(
        CLI[0], [*CLI[1:], "chat", "--agent-id", AGENT, "--events"], env=env,
        encoding="utf-8", codec_errors="strict", timeout=20,
    )
    try:
        child.expect("you> ")
        child.sendline("hi")
        child.expect(f"\\[tool\\] web{LONE}\\(")
        child.expect(f"\\[tool\\] web{LONE} -> ")
        child.expect(f"\\[event\\] kb_documents_retrieved \\(done{LONE}\\): found {LONE}")
        child.expect(f"half {LONE} and more")
        child.expect("you> ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_history_prints_every_turn() -> None:
    history = (
        r'[{"role": "user", "content": "hi \ud83d"}, {"role": "assistant", "content": "\udc00!"}]'
    )
    with ScriptedServer() as server:
        server.route("GET", "/v1/sessions/", Reply(200, "application/json", history.encode()))
        env = {k: v for k, v in os.environ.items() if not k.startswith("LYZR_")}
        env.update(LYZR_API_KEY="k", LYZR_BASE_URL=server.url, NO_COLOR="1")
        done = _run("history", "--agent-id", "a", "--session-id", "s-1", env=env)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    out = done.stdout.decode("utf-8")
    assert f"hi {LONE}" in out and f"{LONE}!" in out


@pytest.mark.parametrize("framework", ["langchain", "llamaindex"])
def test_the_playground_event_stream_relays_every_event(
    emulator: Emulator, framework: str
) -> None:
    settings = ModelSettings(
        framework=framework,
        dialect="lyzr-v3",
        api_key=SecretStr(emulator.api_key),
        base_url=emulator.base_url,
        agent_events=True,
        events_url=events_url_of(emulator.base_url),
    )
    config = PlaygroundConfig(agent_id=AGENT, models=settings, emulator=True)
    with PlaygroundServer(create_app(replace(config))) as server, httpx.stream(
        "POST", server.url + "api/stream", json={"agent_id": AGENT, "message": "hi"}, timeout=30
    ) as response:
        assert response.status_code == 200
        raw = response.read()
    events: list[dict[str, Any]] = [
        json.loads(frame.removeprefix("data: ")) for frame in raw.decode("utf-8").split("\n\n")[:-1]
    ]
    assert events[-1]["type"] == "done", events[-1]
    assert "".join(e["text"] for e in events if e["type"] == "text") == f"half {LONE} and more"
    names = {e["name"] for e in events if e["type"] == "timeline"}
    assert f"web{LONE}" in names, names
