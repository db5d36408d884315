"""The conformance contract: its items, the two targets, and the compatibility report.

No pytest here (the hooks are in ``conftest.py``): what each item is, which service a run talks
to (the embedded emulator, or the real one named by environment variables), and the report
each run writes (``conformance-report.md`` and ``.json``).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from lyzr_stream._errors import redact_url, scrub

__all__ = [
    "CONTRACT",
    "DEFAULT_BASE_URL",
    "DEFAULT_EVENTS_URL",
    "DEFAULT_RAG_URL",
    "EMULATOR_AGENTS",
    "EMULATOR_RAG_ID",
    "MAX_RUNS",
    "MAX_RUNS_ENV",
    "REPORT_DIR_ENV",
    "ItemResult",
    "Outcome",
    "Role",
    "Target",
    "build_report",
    "missing_variable",
    "render_markdown",
    "report_dir",
    "run_budget",
    "write_report",
]

#: Every contract item, in report order: key -> what it checks.
CONTRACT: dict[str, str] = {
    "stream": "Stream route: the answer text arrives in more than one chunk",
    "chat": "One-shot route: `response` and a message id",
    "wrong-key": "A wrong key: HTTP 401 and `AuthenticationError`",
    "unknown-agent": "An unknown agent id: a typed error naming what the service said",
    "session-memory": "The same session id remembers (read back through the history route)",
    "fresh-session": "A fresh session does not remember",
    "variables": "`system_prompt_variables` reach the request",
    "local-tools": "Local tools: one full round-trip in the official round shape",
    "structured-output": "Structured output through `response_format`",
    "agent-events": "Agent events: the socket connects and delivers an event",
    "stop": "The stop route accepts a running session",
    "assets": "Assets: a small PNG uploads to an id a request can carry",
    "tasks": "Tasks: a background task is created and completes",
    "knowledge-base": "Knowledge bases: a retrieve returns chunks with text and score",
    "escapes": "Quotes, newlines and `&` arrive unescaped; no tag leaks into the text",
}

DEFAULT_BASE_URL = "https://agent-prod.studio.lyzr.ai"
DEFAULT_RAG_URL = "https://rag-prod.studio.lyzr.ai"
DEFAULT_EVENTS_URL = "wss://metrics.studio.lyzr.ai"
#: The knowledge base the emulator serves (its id can change with the emulator).
EMULATOR_RAG_ID = "kb-handbook"
#: The most agent runs one run of the suite may spend on a real service; ``LYZR_LIVE_MAX_RUNS``
#: may lower it (never raise it).
MAX_RUNS = 19
MAX_RUNS_ENV = "LYZR_LIVE_MAX_RUNS"


def run_budget(env: Mapping[str, str]) -> int:
    """The runs this run may spend: ``LYZR_LIVE_MAX_RUNS`` when it is lower, else ``MAX_RUNS``."""
    value = env.get(MAX_RUNS_ENV, "").strip()
    if not value:
        return MAX_RUNS
    try:
        asked = int(value)
    except ValueError:
        raise ValueError(f"{MAX_RUNS_ENV} must be a whole number, got {value!r}") from None
    return max(0, min(asked, MAX_RUNS))
REPORT_DIR_ENV = "LYZR_CONFORMANCE_REPORT_DIR"

#: Against the emulator, the agent that plays each role (``lyzr_stream/emulator``'s agents).
EMULATOR_AGENTS: dict[str, str] = {
    "agent": "echo",  # answers "You said: <message>", word by word
    "memory": "memory",  # repeats the user's earlier turns of the session
    "vars": "vars",  # repeats the system_prompt_variables it received
    "assets": "assets",  # names the assets the request carried
    "slow": "slow",  # answers for about ten seconds: time to stop it
    "tool": "tool-caller",  # asks for the local tools the message writes as calls
    "events": "server-tools-5",  # publishes tool events on the agent events channel
}

Role = Literal["agent", "memory", "vars", "assets", "slow", "tool", "events"]
#: The variable that names the agent of each role on a real service.
_ROLE_VARIABLES: dict[str, str] = {
    "agent": "LYZR_AGENT_ID",
    "memory": "LYZR_AGENT_ID",
    "vars": "LYZR_AGENT_ID",
    "assets": "LYZR_AGENT_ID",
    "slow": "LYZR_AGENT_ID",
    "tool": "LYZR_TOOL_AGENT_ID",
    "events": "LYZR_TOOL_AGENT_ID",
}


@dataclass(frozen=True)
class Target:
    """The service one run talks to. ``emulator`` is True for the embedded emulator; then the
    URLs are the emulator's and each role's agent is one of its scripted agents."""

    emulator: bool
    api_key: str = field(repr=False)  # never in a traceback a user may paste
    base_url: str
    rag_url: str
    events_url: str
    agents: Mapping[str, str] = field(default_factory=dict)
    rag_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Target | None:
        """The real service the environment names, or None (no ``LYZR_API_KEY``: emulator)."""
        key = env.get("LYZR_API_KEY", "").strip()
        if not key:
            return None
        agents: dict[str, str] = {}
        for role, variable in _ROLE_VARIABLES.items():
            value = env.get(variable, "").strip()
            if value:
                agents[role] = value
        return cls(
            emulator=False,
            api_key=key,
            base_url=env.get("LYZR_BASE_URL", "").strip() or DEFAULT_BASE_URL,
            rag_url=env.get("LYZR_RAG_URL", "").strip() or DEFAULT_RAG_URL,
            events_url=env.get("LYZR_EVENTS_URL", "").strip() or DEFAULT_EVENTS_URL,
            agents=agents,
            rag_id=env.get("LYZR_RAG_ID", "").strip() or None,
        )

    @classmethod
    def for_emulator(cls, api_key: str, base_url: str, events_url: str) -> Target:
        return cls(
            emulator=True,
            api_key=api_key,
            base_url=base_url,
            rag_url=base_url,
            events_url=events_url,
            agents=dict(EMULATOR_AGENTS),
            rag_id=EMULATOR_RAG_ID,
        )

    def agent(self, role: Role) -> str | None:
        """The agent id for ``role``, or None when the environment names none."""
        return self.agents.get(role)

    @staticmethod
    def variable_of(role: Role) -> str:
        return _ROLE_VARIABLES[role]

    @property
    def name(self) -> str:
        """What the report calls the target (a real URL redacted: no credential, no query)."""
        return "emulator" if self.emulator else redact_url(self.base_url)

    def scrub(self, text: str) -> str:
        return scrub(text, (self.api_key,))


def missing_variable(target: Target | None, needs: tuple[str, ...]) -> str | None:
    """The first variable a real target lacks for ``needs``, or None."""
    if target is None:
        return None
    for need in needs:
        if need == "rag":
            if target.rag_id is None:
                return "LYZR_RAG_ID"
        elif need in _ROLE_VARIABLES and target.agents.get(need) is None:
            return _ROLE_VARIABLES[need]
    return None


Outcome = Literal["pass", "fail", "skip", "not run"]


@dataclass
class ItemResult:
    """One contract item's outcome over its tests: any failure fails it; it passes when a test
    passed and none failed; skipped when every test skipped."""

    outcome: Outcome = "not run"
    detail: str = ""
    tests: list[str] = field(default_factory=list)

    def add(self, test: str, outcome: Outcome, detail: str) -> None:
        self.tests.append(test)
        rank = {"not run": 0, "skip": 1, "pass": 2, "fail": 3}
        if rank[outcome] > rank[self.outcome]:
            self.outcome, self.detail = outcome, detail
        elif outcome == self.outcome == "fail" and detail:
            self.detail = f"{self.detail}; {detail}" if self.detail else detail


def build_report(
    results: Mapping[str, ItemResult],
    *,
    target: str,
    version: str,
    planned_runs: int,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The report as JSON-ready data: every contract item, in contract order."""
    moment = now or datetime.now(UTC)
    items = []
    for key, title in CONTRACT.items():
        result = results.get(key, ItemResult())
        items.append(
            {"item": key, "title": title, "outcome": result.outcome, "detail": result.detail}
        )
    counts = {
        outcome: sum(1 for i in items if i["outcome"] == outcome)
        for outcome in ("pass", "fail", "skip", "not run")
    }
    return {
        "package": "lyzr-stream",
        "version": version,
        "date": moment.isoformat(timespec="seconds"),
        "target": target,
        "python": platform.python_version(),
        "agent_runs_planned": planned_runs,
        "summary": counts,
        "items": items,
    }


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _runs(report: Mapping[str, Any]) -> str:
    planned = report["agent_runs_planned"]
    if report["target"] == "emulator":
        return f"none on a real service (emulator; against one this selection spends {planned})"
    return f"{planned} on {report['target']}"


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as a short Markdown page to paste into a bug report."""
    summary = report["summary"]
    lines = [
        "# lyzr-stream conformance report",
        "",
        f"- package: lyzr-stream {report['version']} (Python {report['python']})",
        f"- date: {report['date']}",
        f"- target: {report['target']}",
        f"- agent runs: {_runs(report)}",
        f"- result: {summary['pass']} pass, {summary['fail']} fail, {summary['skip']} skip, "
        f"{summary['not run']} not run",
        "",
        "| item | outcome | detail |",
        "|---|---|---|",
    ]
    for item in report["items"]:
        lines.append(f"| {item['item']} | {item['outcome']} | {_cell(item['detail'])} |")
    return "\n".join(lines) + "\n"


def report_dir(env: Mapping[str, str], default: Path) -> Path:
    value = env.get(REPORT_DIR_ENV, "").strip()
    return Path(value) if value else default


def write_report(report: Mapping[str, Any], directory: Path) -> tuple[Path, Path]:
    """Write ``conformance-report.md`` and ``conformance-report.json`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    md = directory / "conformance-report.md"
    js = directory / "conformance-report.json"
    md.write_text(render_markdown(report), encoding="utf-8")
    js.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return md, js


def environment() -> Mapping[str, str]:
    return os.environ
