"""``lyzr-stream chat --file``, ``sessions`` and ``history`` against the emulator."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pexpect
import pytest

from lyzr_stream import AgentRequest, LyzrClient
from lyzr_stream.emulator import Emulator
from tests.helpers.cli import CLI, cli_env

pytestmark = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")

PDF = b"%PDF-1.4\n%cli\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x03" * 20


def test_chat_file_goes_with_the_next_message(lyzr_emulator: Emulator, tmp_path: Path) -> None:
    report, photo, bad = tmp_path / "report.pdf", tmp_path / "photo.png", tmp_path / "notes.txt"
    report.write_bytes(PDF)
    photo.write_bytes(PNG)
    bad.write_text("x")
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)
    child = pexpect.spawn(
        CLI[0],
        [*CLI[1:], "chat", "--agent-id", "assets", "--file", str(report)],
        env=cli_env(lyzr_emulator),
        encoding="utf-8",
        timeout=20,
    )
    try:
        child.expect(r"\[attached report\.pdf\]")  # uploaded before the first prompt
        child.expect("you> ")
        child.sendline("what is this?")
        child.expect(rf"I received 1 file\(s\): report\.pdf \(application/pdf, {len(PDF)} bytes")
        child.expect("you> ")
        child.sendline(f"/file {photo}")
        child.expect("goes with your next message")
        child.sendline("and this?")
        child.expect(r"I received 1 file\(s\): photo\.png \(image/png")
        child.expect("you> ")
        child.sendline("no file now")
        child.expect("No files. You said: no file now")
        child.expect("you> ")
        child.sendline(f"/file {bad}")
        child.sendline("this one?")
        child.expect(r"error: InvalidRequestError: cannot upload 'notes\.txt'.*\(not sent\)")
        child.expect("you> ")
        child.sendline(f"/file {fifo}")  # a named pipe: refused at once, never waited on
        child.sendline("and now?")
        child.expect(r"InvalidRequestError: cannot upload '.*pipe\.pdf': it is a pipe", timeout=5)
        child.expect("you> ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_sessions_and_history_commands(lyzr_emulator: Emulator) -> None:
    lyzr_emulator.reset()
    with LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url) as client:
        for text in ("my name is Ada", "who am I?"):
            client.chat(AgentRequest(agent_id="memory", message=text, session_id="cli-mem-1"))
    env = cli_env(lyzr_emulator)
    listed = subprocess.run(
        [*CLI, "sessions", "--agent-id", "memory"], env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("cli-mem-1  ")
    shown = subprocess.run(
        [*CLI, "history", "--session-id", "cli-mem-1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.splitlines() == [
        "you> my name is Ada",
        "agent> This is the start of our conversation.",
        "you> who am I?",
        "agent> Earlier you said: my name is Ada",
    ]
    env["LYZR_API_KEY"] = "wrong"
    failed = subprocess.run(
        [*CLI, "history", "--session-id", "cli-mem-1"], env=env, capture_output=True, text=True
    )
    assert failed.returncode == 1 and "AuthenticationError" in failed.stderr
