"""The README and the documentation site: what they promise holds (``make docs`` builds the site
with ``--strict``; these are the checks that need no build)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lyzr_stream.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _nav_pages() -> list[str]:
    """The pages mkdocs.yml's nav lists (``- Title: page.md`` lines)."""
    text = (ROOT / "mkdocs.yml").read_text()
    nav = text.split("\nnav:\n", 1)[1]
    return re.findall(r"^\s*- [^:\n]+: (\S+\.md)\s*$", nav, re.MULTILINE)


def _code_blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), re.DOTALL | re.MULTILINE)


def test_every_nav_page_exists_and_every_page_is_in_the_nav() -> None:
    pages = _nav_pages()
    assert len(pages) > 20
    assert [p for p in pages if not (DOCS / p).is_file()] == []
    on_disk = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert [p for p in on_disk if p not in pages] == []


def test_readme_is_short_and_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    first = _code_blocks(ROOT / "README.md", "bash")[0].splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["make demo", "make test"]
    assert readme.index("make demo") < readme.index("## ")  # before any section


def test_the_two_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test", "docs", "docs-lowest", "bench"):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
    assert "make docs" in (ROOT / ".ci" / "run").read_text()


def test_benchmark_markers_are_where_make_bench_writes() -> None:
    for path in (ROOT / "README.md", DOCS / "benchmarks.md"):
        text = path.read_text()
        start, end = text.index("<!-- bench:start -->"), text.index("<!-- bench:end -->")
        assert "Measured" in text[start:end], path
    assert "](benchmarks.png)" in (DOCS / "benchmarks.md").read_text()
    assert (DOCS / "benchmarks.png").read_bytes().startswith(b"\x89PNG")


def test_changelog_page_includes_the_changelog() -> None:
    assert '--8<-- "CHANGELOG.md' in (DOCS / "changelog.md").read_text()


def test_getting_started_states_the_floors_the_readme_states() -> None:
    floors = re.findall(r"[\w.-]+ ≥ [\w.]+", " ".join((ROOT / "README.md").read_text().split()))
    page = " ".join((DOCS / "getting-started.md").read_text().split())
    assert len(floors) >= 10
    assert [f for f in floors if f not in page and not f.startswith("Python")] == []


def _runnable_examples() -> list[tuple[str, str]]:
    """The docs' Python blocks that run as they are, offline: those that start the emulator."""
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for block in _code_blocks(page, "python"):
            if "with Emulator() as em" in block:
                found.append((page.name, block))
    return found


@pytest.mark.parametrize(("page", "code"), _runnable_examples())
def test_docs_example_runs_as_written(page: str, code: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYZR_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"{page}: {done.stderr[-2000:]}"
    if "create_agent" in code:
        assert "tool: 42" in done.stdout and "add returned 42." in done.stdout


@pytest.mark.parametrize("index", range(len(_code_blocks(ROOT / "README.md", "python"))))
def test_readme_quickstart_runs_against_the_emulator(index: int, lyzr_emulator: Emulator) -> None:
    # The README's blocks as a user runs them, the key and address from the environment.
    code = _code_blocks(ROOT / "README.md", "python")[index].replace("YOUR_AGENT_ID", "echo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYZR_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "LYZR_API_KEY": lyzr_emulator.api_key,
        "LYZR_BASE_URL": lyzr_emulator.base_url,
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "You said: What can you do?" in done.stdout
    assert "You said: And in one sentence?" in done.stdout
