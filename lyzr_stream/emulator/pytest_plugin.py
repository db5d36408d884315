"""Pytest plugin: ``pytest_plugins = ["lyzr_stream.emulator.pytest_plugin"]``.

Provides ``lyzr_emulator``: one emulator per test session (call ``.reset()`` to forget
recorded requests and session memory).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import Emulator


@pytest.fixture(scope="session")
def lyzr_emulator() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator
