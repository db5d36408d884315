"""The check that a text or a byte string holds no trace of the recognisable fake key."""

from __future__ import annotations

from tests.conftest import FAKE_KEY


def assert_clean(text: str | bytes, channel: str) -> None:
    needle: str | bytes = FAKE_KEY.encode() if isinstance(text, bytes) else FAKE_KEY
    assert needle not in text, f"the API key leaked through {channel}"  # type: ignore[operator]
