"""What the distribution declares and ships: floors = the tested pins, the README, the wheel."""

from __future__ import annotations

import importlib
import importlib.util
import re
import tomllib
from pathlib import Path

import httpx

from lyzr_stream.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    """The distribution name a requirement line starts with."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None, requirement
    return match.group()


def _declared_floors() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    floors: dict[str, str] = {}
    for line in lines:
        if _name(line) == project["name"]:
            continue  # the extras that gather other extras
        lower = re.findall(r">=\s*([^,;\s]+)", line)
        assert len(lower) == 1, f"{line!r} in pyproject.toml declares no single >= floor"
        floors[_name(line)] = lower[0]
    return floors


def _lowest_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in (ROOT / "constraints" / "lowest.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip()] = version.strip()
    return pins


def test_declared_floors_are_the_tested_pins() -> None:
    # CI installs constraints/lowest.txt and runs the suite on it: the floors must be those pins.
    assert _declared_floors() == _lowest_pins()


def test_readme_states_the_runtime_floors() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra, requirements in project["optional-dependencies"].items():
        if extra != "dev":
            lines += requirements
    runtime = {_name(line) for line in lines} - {project["name"]}
    readme = " ".join((ROOT / "README.md").read_text().split())
    floors = _declared_floors()
    assert [n for n in sorted(runtime) if f"{n} ≥ {floors[n]}" not in readme] == []


def test_readme_links_are_absolute() -> None:
    # PyPI shows the README without the repository's files: a relative link would be dead there.
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    relative = [t for t in targets if not t.startswith(("#", "https://"))]
    assert relative == []


def test_wheel_check_names_what_is_missing_or_extra() -> None:
    spec = importlib.util.spec_from_file_location("check_wheel", ROOT / ".ci" / "check_wheel.py")
    assert spec is not None and spec.loader is not None
    check_wheel = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_wheel)
    good = [
        "lyzr_stream-0.1.0.dist-info/licenses/LICENSE",
        *(f"{p}/{f}" for p in check_wheel.PACKAGES for f in ("__init__.py", "py.typed")),
    ]
    assert check_wheel.problems(good) == []
    bad = [n for n in good if not n.endswith(("LICENSE", "langchain_lyzr_stream/py.typed"))]
    bad.append("tests/test_client.py")
    assert check_wheel.problems(bad) == [
        "no LICENSE under .dist-info/licenses/",
        "no langchain_lyzr_stream/py.typed",
        "ships tests/test_client.py",
    ]


def test_openai_route_is_served_by_the_benchmarks_not_the_shipped_emulator(
    lyzr_emulator: Emulator,
) -> None:
    from benchmarks.openai_compat import routes

    body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
    auth = {"authorization": f"Bearer {lyzr_emulator.api_key}"}
    shipped = httpx.post(f"{lyzr_emulator.base_url}/v1/chat/completions", json=body, headers=auth)
    assert shipped.status_code == 404
    bench = Emulator()
    bench.app.router.routes.extend(routes)  # as benchmarks.emulator_process does
    with bench:
        answer = httpx.post(
            f"{bench.base_url}/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {bench.api_key}"},
        )
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"] == "You said: hi"
