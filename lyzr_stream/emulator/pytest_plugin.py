"""Pytest plugin: ``pytest_plugins = ["lyzr_stream.emulator.pytest_plugin"]``.

Provides ``lyzr_emulator``: one emulator server per test session (starting it once keeps the
suite fast), handed to each test with a clean recorder: recorded requests, session memory,
background tasks (``lyzr_emulator.tasks``) and fault counters are reset before every test that
asks for it, so a test never sees another
test's requests. ``lyzr_emulator_server`` is the same server without the reset, for
session-scoped fixtures of your own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import Emulator


@pytest.fixture(scope="session")
def lyzr_emulator_server() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def lyzr_emulator(lyzr_emulator_server: Emulator) -> Emulator:
    lyzr_emulator_server.reset()
    return lyzr_emulator_server
