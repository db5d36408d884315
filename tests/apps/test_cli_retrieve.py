"""``lyzr-stream retrieve``: a knowledge base's passages in the terminal, as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from urllib.parse import parse_qs

from lyzr_stream.emulator import Emulator
from tests.helpers.cli import CLI, cli_env


def _run(*args: str, env: dict[str, str] | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)


def test_retrieve_prints_score_source_and_text(lyzr_emulator: Emulator) -> None:
    env = cli_env(lyzr_emulator, LYZR_RAG_URL=lyzr_emulator.base_url)
    done = _run(
        "retrieve", "kb-handbook", "when does the cafe open on weekends", "--top-k", "2", env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "0.667  hours.pdf p.2",
        "  On weekends Lyzr Cafe opens at 10 am and closes at 4 pm.",
        "0.333  hours.pdf p.1",
        "  Lyzr Cafe opens at 8 am and closes at 6 pm on weekdays.",
    ]
    [sent] = lyzr_emulator.requests
    assert parse_qs(sent.query)["top_k"] == ["2"]


def test_retrieve_json_and_empty(lyzr_emulator: Emulator) -> None:
    env = cli_env(lyzr_emulator, LYZR_RAG_URL=lyzr_emulator.base_url)
    done = _run("retrieve", "kb-handbook", "refunds", "--json", "--score-threshold", "0.5", env=env)
    assert done.returncode == 0, done.stderr
    [chunk] = json.loads(done.stdout)
    assert chunk["source"] == "policies.pdf" and chunk["score"] == 1.0
    assert chunk["metadata"] == {"section": "refunds", "language": "en"}
    assert (chunk["id"], chunk["page"], chunk["chunk_index"]) == ("kb-handbook-2", 1, 2)
    assert parse_qs(lyzr_emulator.requests[-1].query)["score_threshold"] == ["0.5"]
    empty = _run("retrieve", "kb-empty", "refunds", env=env)
    assert (empty.returncode, empty.stdout) == (0, "(no passage found)\n")
    assert json.loads(_run("retrieve", "kb-empty", "x", "--json", env=env).stdout) == []


def test_retrieve_errors_go_to_stderr_with_exit_code(lyzr_emulator: Emulator) -> None:
    env = cli_env(lyzr_emulator, LYZR_RAG_URL=lyzr_emulator.base_url)
    unknown = _run("retrieve", "no-such-kb", "refunds", env=env)
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert "NotFoundError" in unknown.stderr
    bad = _run("retrieve", "kb-handbook", "refunds", "--top-k", "0", env=env)
    assert bad.returncode == 1
    assert "InvalidRequestError" in bad.stderr and "top_k" in bad.stderr
    usage = _run("retrieve", "kb-handbook", env=env)
    assert usage.returncode == 2 and "QUERY" in usage.stderr
    wrong_key = _run(
        "retrieve", "kb-handbook", "refunds", env={**env, "LYZR_API_KEY": "sk-not-the-key-42"}
    )
    assert wrong_key.returncode == 1 and "AuthenticationError" in wrong_key.stderr
    assert "sk-not-the-key-42" not in wrong_key.stderr


def test_retrieve_against_the_embedded_emulator_offline() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYZR_")}
    done = _run("retrieve", "--emulator", "kb-handbook", "loyalty card", env=env)
    assert done.returncode == 0, done.stderr
    assert "loyalty.docx" in done.stdout and "free coffee" in done.stdout
