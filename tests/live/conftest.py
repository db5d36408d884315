"""The conformance suite's plugin and fixtures (issue #29).

Every test here is marked ``@pytest.mark.live(item=..., runs=N, needs=(...))``: the contract
item it checks (``contract.CONTRACT``), how many agent runs it spends on a real service, and
the roles whose agent it needs (``"agent"``, ``"tool"``, ...; ``"rag"`` for a knowledge base).

Target: with ``LYZR_API_KEY`` set, the real service the ``LYZR_*`` variables name (a test whose
variable is missing is skipped, naming it); without it, the embedded emulator. Before any test
runs, the plugin prints how many agent runs the selected tests will spend (a real service: at
most ``contract.MAX_RUNS``, or the lower ``LYZR_LIVE_MAX_RUNS``, else the run stops before any
call). After the run it writes ``conformance-report.md`` and ``.json`` (the repository root, or
``LYZR_CONFORMANCE_REPORT_DIR``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

import lyzr_stream
from lyzr_stream import LyzrClient
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.agent_events import events_url_of

from .contract import (
    CONTRACT,
    MAX_RUNS,
    MAX_RUNS_ENV,
    ItemResult,
    Outcome,
    Target,
    build_report,
    missing_variable,
    report_dir,
    run_budget,
    write_report,
)
from .support import Wire, new_client

_HERE = Path(__file__).parent
_ROLES = ("agent", "memory", "vars", "assets", "slow", "tool", "events")


def _spec(item: pytest.Item) -> tuple[str, int, tuple[str, ...]] | None:
    marker = item.get_closest_marker("live")
    if marker is None:
        return None
    return (
        marker.kwargs.get("item", ""),
        marker.kwargs.get("runs", 0),
        tuple(marker.kwargs.get("needs", ())),
    )


class ConformancePlugin:
    """Checks the markers, prints the runs a real target will spend, writes the report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.real = Target.from_env(os.environ)
        self.problems: list[str] = []
        self.selected: dict[str, str] = {}
        self.planned = 0
        self.results: dict[str, ItemResult] = {}
        self.errors: dict[str, str] = {}
        self.written: tuple[Path, Path] | None = None

    @property
    def target_name(self) -> str:
        return self.real.name if self.real is not None else "emulator"

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        if _HERE not in item.path.parents:
            return
        spec = _spec(item)
        if spec is None:
            self.problems.append(f"{item.nodeid}: not marked @pytest.mark.live(item=..., runs=...)")
            return
        key, runs, needs = spec
        if key not in CONTRACT:
            self.problems.append(f"{item.nodeid}: item {key!r} is not in the contract")
        if not isinstance(runs, int) or runs < 0:
            self.problems.append(f"{item.nodeid}: runs must be a whole number, got {runs!r}")
        unknown = [n for n in needs if n != "rag" and n not in _ROLES]
        if unknown:
            self.problems.append(f"{item.nodeid}: unknown needs {unknown}")

    @pytest.hookimpl(trylast=True)  # after -m and -k deselected what does not run
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        if self.problems:
            raise pytest.UsageError("conformance suite:\n  " + "\n  ".join(self.problems))
        for item in items:
            spec = _spec(item)
            if spec is None or _HERE not in item.path.parents:
                continue
            key, runs, needs = spec
            self.selected[item.nodeid] = key
            if missing_variable(self.real, needs) is None:
                self.planned += runs
        if not self.selected:
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if self.real is None:
            line = (
                f"conformance: {len(self.selected)} checks against the embedded emulator "
                "(no LYZR_API_KEY: no real service is called)"
            )
        else:
            line = (
                f"conformance: this run will spend {self.planned} agent runs on "
                f"{self.target_name}"
            )
            try:
                budget = run_budget(os.environ)
            except ValueError as exc:
                raise pytest.UsageError(str(exc)) from None
            if self.planned > budget:
                raise pytest.UsageError(
                    f"{line}: more than the limit of {budget} ({MAX_RUNS_ENV}, at most "
                    f"{MAX_RUNS}); select fewer tests (-k)"
                )
        if reporter is not None:
            reporter.write_line(line)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        spec = _spec(item)
        if spec is None or item.nodeid not in self.selected:
            return
        variable = missing_variable(self.real, spec[2])
        if variable is not None:
            pytest.skip(f"{variable} is not set (needed against a real service)")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.failed and call.excinfo is not None and item.nodeid in self.selected:
            error = call.excinfo.value
            text = f"{type(error).__name__}: {error}".strip()
            self.errors[item.nodeid] = " ".join(text.split())[:500]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        key = self.selected.get(report.nodeid)
        if key is None:
            return
        outcome: Outcome | None = None
        detail = ""
        if report.skipped:
            outcome = "skip"
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            detail = reason.removeprefix("Skipped: ")
        elif report.failed:
            outcome = "fail"
            detail = self.errors.get(report.nodeid) or f"failed in {report.when}"
        elif report.when == "call":
            outcome = "pass"
        if outcome is None:
            return
        if self.real is not None:
            detail = self.real.scrub(detail)
        self.results.setdefault(key, ItemResult()).add(report.nodeid, outcome, detail)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.selected or self.config.option.collectonly:
            return
        report = build_report(
            self.results,
            target=self.target_name,
            version=lyzr_stream.__version__,
            planned_runs=self.planned,
        )
        self.written = write_report(report, report_dir(os.environ, self.config.rootpath))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.written is not None:
            md, js = self.written
            terminalreporter.write_line(f"conformance report: {md} and {js.name}")


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("lyzr-conformance"):
        config.pluginmanager.register(ConformancePlugin(config), "lyzr-conformance")


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def service() -> Iterator[tuple[Target, Emulator | None]]:
    """The service under test: the real one the environment names, else a fresh emulator."""
    real = Target.from_env(os.environ)
    if real is not None:
        yield real, None
        return
    with Emulator() as emulator:
        events = events_url_of(emulator.base_url)
        yield Target.for_emulator(emulator.api_key, emulator.base_url, events), emulator


@pytest.fixture
def target(service: tuple[Target, Emulator | None]) -> Target:
    return service[0]


@pytest.fixture
def emulator(service: tuple[Target, Emulator | None]) -> Emulator | None:
    """The emulator under test, or None against a real service (checks that only the
    emulator can make: what the agent received)."""
    return service[1]


@pytest.fixture
def client(target: Target) -> Iterator[LyzrClient]:
    with new_client(target) as c:
        yield c


@pytest.fixture
def wire(target: Target) -> Iterator[Callable[..., Wire]]:
    made: list[Wire] = []

    def make(**options: Any) -> Wire:
        w = Wire(target, **options)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
