"""Fixtures: a client for the session's emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lyzr_stream import LyzrClient
from lyzr_stream.emulator import Emulator
from tests.conftest import FAKE_KEY
from tests.helpers.clients import make_client


@pytest.fixture
def client(lyzr_emulator: Emulator) -> Iterator[LyzrClient]:
    with make_client(lyzr_emulator) as c:
        yield c


@pytest.fixture(scope="module")
def keyed_emulator() -> Iterator[Emulator]:
    """An emulator whose accepted key is the recognisable fake key."""
    with Emulator(api_key=FAKE_KEY) as em:
        yield em
