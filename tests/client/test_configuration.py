"""LyzrClient's configuration: key and URL from arguments or the environment, dialect, close."""

from __future__ import annotations

import pytest

from lyzr_stream import InvalidRequestError, LyzrClient
from lyzr_stream.emulator import Emulator
from tests.helpers.clients import make_client, req


def test_missing_key_is_an_error_at_construction(no_lyzr_env: None) -> None:
    with pytest.raises(InvalidRequestError, match="LYZR_API_KEY"):
        LyzrClient()


def test_env_configuration(
    no_lyzr_env: None, monkeypatch: pytest.MonkeyPatch, lyzr_emulator: Emulator
) -> None:
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    monkeypatch.setenv("LYZR_BASE_URL", lyzr_emulator.base_url)
    monkeypatch.setenv("LYZR_USER_ID", "env-user")
    with LyzrClient() as c:
        assert c.chat(req()).user_id == "env-user"


def test_default_base_url() -> None:
    assert LyzrClient(api_key="k").settings.base_url == "https://agent-prod.studio.lyzr.ai"


def test_unknown_dialect() -> None:
    with pytest.raises(InvalidRequestError, match="unknown dialect 'nope'"):
        LyzrClient(api_key="k", dialect="nope")


def test_closed_client_refuses_calls(lyzr_emulator: Emulator) -> None:
    c = make_client(lyzr_emulator)
    c.close()
    with pytest.raises(InvalidRequestError, match="closed"):
        c.stream(req())
