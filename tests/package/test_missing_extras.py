"""A missing extra is named in the ImportError (issue 14 item 8): each package imported in a
subprocess whose import system refuses the extra's modules, as if they were not installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BLOCKER = """
import sys
BLOCKED = set({blocked!r})

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
import lyzr_stream  # the core needs no extra
lyzr_stream.AgentRequest(agent_id="a", message="m")
import {package}
"""


@pytest.mark.parametrize(
    ("package", "blocked", "extra"),
    [
        ("langchain_lyzr_stream", ["langchain_core", "langchain"], "langchain"),
        ("llamaindex_lyzr_stream", ["llama_index"], "llamaindex"),
        ("lyzr_stream.emulator", ["starlette"], "emulator"),
        ("lyzr_stream.emulator", ["uvicorn"], "emulator"),
        ("lyzr_stream.playground", ["starlette"], "playground"),
        ("lyzr_stream.playground", ["uvicorn"], "playground"),
    ],
)
def test_missing_extra_names_the_pip_command(package: str, blocked: list[str], extra: str) -> None:
    code = BLOCKER.format(blocked=blocked, package=package)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: "), result.stderr
    assert f'pip install "lyzr-stream[{extra}]"' in last
    assert package in last


@pytest.mark.parametrize(
    ("framework", "blocked", "extra"),
    [("llamaindex", ["llama_index"], "llamaindex"), ("langchain", ["langchain_core"], "langchain")],
)
def test_a_playground_framework_without_its_extra_names_it(
    framework: str, blocked: list[str], extra: str
) -> None:
    """The playground itself is installed; the framework it is asked to serve is not."""
    code = BLOCKER.format(blocked=blocked, package="lyzr_stream.playground") + (
        "from lyzr_stream.playground import ModelSettings, PlaygroundConfig, create_app\n"
        f"models = ModelSettings(framework={framework!r})\n"
        "create_app(PlaygroundConfig(agent_id='a', models=models))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: "), result.stderr
    assert f'pip install "lyzr-stream[{extra}]"' in last
