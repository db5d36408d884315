"""The conformance suite itself (tests/live/, issue #29), run as a user runs it: ``pytest -m
live`` in a subprocess. Every URL is this test's emulator on loopback: nothing reaches the
network, whatever the suite decides to run."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lyzr_stream
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.agent_events import events_url_of
from lyzr_stream.emulator.agents import resolve_agent
from tests.live.contract import (
    CONTRACT,
    DEFAULT_BASE_URL,
    DEFAULT_EVENTS_URL,
    DEFAULT_RAG_URL,
    MAX_RUNS,
    ItemResult,
    Target,
    build_report,
    missing_variable,
    render_markdown,
)

ROOT = Path(__file__).resolve().parents[2]
_VARIABLE = re.compile(r"\bLYZR_[A-Z_]+\b")


def _run_suite(
    em: Emulator, report_dir: Path, variables: dict[str, str], *selection: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LYZR_") and not k.lower().endswith("_proxy")
    }
    env.update(
        PYTHONPATH=str(ROOT),
        # Only the plugins the suite uses: the others' start-up would double its run time.
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        LYZR_BASE_URL=em.base_url,
        LYZR_RAG_URL=em.base_url,
        LYZR_EVENTS_URL=events_url_of(em.base_url),
        LYZR_CONFORMANCE_REPORT_DIR=str(report_dir),
        **variables,
    )
    command = [sys.executable, "-m", "pytest", "-m", "live", "-p", "no:cacheprovider", "-rs"]
    command += ["-p", "pytest_asyncio.plugin", "-p", "pytest_timeout"]
    done = subprocess.run(
        [*command, *(selection or ("tests/live",))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    path = report_dir / "conformance-report.json"
    report = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return done, report


def test_with_only_a_key_every_agent_check_skips_naming_its_variable(tmp_path: Path) -> None:
    with Emulator() as em:
        base_url = em.base_url
        done, report = _run_suite(em, tmp_path, {"LYZR_API_KEY": em.api_key})
        reached = [r.json for r in em.requests if r.path.startswith("/v3/inference/")]
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert f"this run will spend 0 agent runs on {base_url}" in output
    skips = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert skips and all(_VARIABLE.search(line) for line in skips), skips
    outcomes = {i["item"]: i for i in report["items"]}
    assert outcomes["wrong-key"]["outcome"] == outcomes["unknown-agent"]["outcome"] == "pass"
    for item in outcomes.values():
        if item["outcome"] != "pass":
            assert item["outcome"] == "skip" and _VARIABLE.search(item["detail"]), item
    assert "LYZR_AGENT_ID" in outcomes["stream"]["detail"]
    assert "LYZR_TOOL_AGENT_ID" in outcomes["local-tools"]["detail"]
    assert "LYZR_RAG_ID" in outcomes["knowledge-base"]["detail"]
    # No agent ran: the two requests that went out named no agent the service has.
    assert reached and all(resolve_agent(body["agent_id"]) is None for body in reached)


def test_every_run_writes_the_report_with_the_services_error_text(tmp_path: Path) -> None:
    secret = "sk-lyzr-conformance-SECRET-0123456789"  # a key this emulator refuses
    with Emulator() as em:
        base_url = em.base_url
        done, report = _run_suite(
            em,
            tmp_path,
            {"LYZR_API_KEY": secret, "LYZR_AGENT_ID": "echo"},
            "tests/live/test_routes.py::test_the_one_shot_route_returns_response_and_a_message_id",
            "tests/live/test_errors.py",
        )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]  # the one-shot check failed: a wrong key
    assert f"this run will spend 1 agent runs on {base_url}" in output
    assert report["version"] == lyzr_stream.__version__
    assert report["date"].startswith(datetime.now(UTC).date().isoformat())
    assert report["target"] == base_url
    items = {i["item"]: i for i in report["items"]}
    assert list(items) == list(CONTRACT)
    assert items["chat"]["outcome"] == "fail"
    assert items["chat"]["detail"].startswith("AuthenticationError: HTTP 401: Invalid API key")
    assert items["wrong-key"]["outcome"] == "pass"
    assert items["unknown-agent"]["outcome"] == "fail"  # refused for the key, not the agent
    assert items["stream"]["outcome"] == "not run"
    markdown = (tmp_path / "conformance-report.md").read_text(encoding="utf-8")
    assert f"lyzr-stream {lyzr_stream.__version__}" in markdown
    assert "| chat | fail | AuthenticationError: HTTP 401" in markdown
    assert len(markdown.splitlines()) < 40  # short enough to paste into a bug report
    for text in (markdown, json.dumps(report), output):
        assert secret not in text


def test_a_run_over_the_runs_limit_stops_before_any_call(tmp_path: Path) -> None:
    with Emulator() as em:
        base_url = em.base_url
        variables = {
            "LYZR_API_KEY": em.api_key,
            "LYZR_AGENT_ID": "echo",
            "LYZR_LIVE_MAX_RUNS": "3",
        }
        done, report = _run_suite(em, tmp_path, variables, "tests/live/test_sessions.py")
        requests = em.requests
    output = done.stdout + done.stderr
    assert done.returncode == 4, output[-3000:]  # a usage error: nothing ran
    assert f"this run will spend 5 agent runs on {base_url}: more than the limit of 3" in output
    assert requests == []
    # The report is written all the same: nothing ran.
    assert {i["outcome"] for i in report["items"]} == {"not run"}


# -- the pieces, without a subprocess --------------------------------------------------------
def test_only_a_key_names_a_real_target_with_no_agent_and_the_default_hosts() -> None:
    target = Target.from_env({"LYZR_API_KEY": " sk-x-123456 ", "LYZR_AGENT_ID": "  "})
    assert target is not None and not target.emulator
    assert target.api_key == "sk-x-123456"
    assert target.agents == {} and target.rag_id is None
    assert (target.base_url, target.rag_url, target.events_url) == (
        DEFAULT_BASE_URL,
        DEFAULT_RAG_URL,
        DEFAULT_EVENTS_URL,
    )
    assert "sk-x-123456" not in repr(target)
    assert Target.from_env({"LYZR_AGENT_ID": "a"}) is None  # no key: the emulator


def test_each_role_takes_its_variable_and_a_missing_one_is_named() -> None:
    target = Target.from_env(
        {"LYZR_API_KEY": "k", "LYZR_AGENT_ID": "plain", "LYZR_TOOL_AGENT_ID": "tooly"}
    )
    assert target is not None
    assert target.agent("memory") == "plain" and target.agent("events") == "tooly"
    assert missing_variable(target, ("agent", "tool")) is None
    assert missing_variable(target, ("agent", "rag")) == "LYZR_RAG_ID"
    assert missing_variable(Target.from_env({"LYZR_API_KEY": "k"}), ("tool",)) == (
        "LYZR_TOOL_AGENT_ID"
    )
    assert missing_variable(None, ("tool", "rag")) is None  # the emulator has every role


def test_the_target_is_named_without_credentials() -> None:
    target = Target.from_env(
        {"LYZR_API_KEY": "k", "LYZR_BASE_URL": "https://me:pw@lyzr.example/v?token=t"}
    )
    assert target is not None
    assert "pw" not in target.name and "token" not in target.name
    assert target.name.startswith("https://") and "lyzr.example" in target.name


def test_an_item_fails_when_any_test_fails_and_skips_only_when_all_skipped() -> None:
    item = ItemResult()
    item.add("a", "skip", "LYZR_AGENT_ID is not set")
    assert (item.outcome, item.detail) == ("skip", "LYZR_AGENT_ID is not set")
    item.add("b", "pass", "")
    assert item.outcome == "pass"
    item.add("c", "fail", "AssertionError: one")
    item.add("d", "pass", "")
    item.add("e", "fail", "AssertionError: two")
    assert (item.outcome, item.detail) == ("fail", "AssertionError: one; AssertionError: two")
    assert item.tests == ["a", "b", "c", "d", "e"]


def test_the_markdown_report_keeps_each_item_on_one_table_row() -> None:
    results = {"chat": ItemResult("fail", "HTTP 500: a | b\nsecond line")}
    report = build_report(results, target="https://h", version="9.9", planned_runs=3)
    markdown = render_markdown(report)
    assert "| chat | fail | HTTP 500: a \\| b second line |" in markdown
    assert report["summary"] == {"pass": 0, "fail": 1, "skip": 0, "not run": len(CONTRACT) - 1}
    assert "- agent runs: 3 on https://h" in markdown


def test_every_contract_item_has_a_check_and_the_whole_suite_stays_under_the_limit() -> None:
    items: list[str] = []
    runs = 0
    for path in sorted((ROOT / "tests" / "live").glob("test_*.py")):
        module = importlib.import_module(f"tests.live.{path.stem}")
        for name, value in vars(module).items():
            if not name.startswith("test_"):
                continue
            [mark] = [m for m in getattr(value, "pytestmark", []) if m.name == "live"]
            items.append(mark.kwargs["item"])
            runs += mark.kwargs["runs"]
    assert set(items) == set(CONTRACT)
    assert runs <= MAX_RUNS
