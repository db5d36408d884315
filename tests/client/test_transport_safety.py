"""Transport rules: no redirect followed, TLS verified, plain http refused, path params encoded."""

from __future__ import annotations

import ssl

import pytest
from pydantic import SecretStr

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import AgentRequest, APIStatusError, InvalidRequestError, LyzrClient
from lyzr_stream.emulator import Emulator
from tests.conftest import FAKE_KEY
from tests.helpers.secrets import assert_clean


def test_redirects_are_not_followed(keyed_emulator: Emulator) -> None:
    keyed_emulator.reset()
    client = LyzrClient(
        api_key=FAKE_KEY,
        base_url=keyed_emulator.base_url,
        default_headers={"x-emulator-fault": "redirect:307"},
    )
    for call in (client.chat, lambda r: client.stream(r).until_done()):
        with pytest.raises(APIStatusError, match="redirect") as info:
            call(AgentRequest(agent_id="echo", message="hi"))
        assert info.value.status_code == 307
    assert len(keyed_emulator.requests) == 2, "a redirect was followed"


def test_tls_verification_is_on_by_default() -> None:
    client = LyzrClient(api_key=FAKE_KEY)
    pool = client._sync_http()._transport._pool  # type: ignore[attr-defined]
    context: ssl.SSLContext = pool._ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_plain_http_to_a_remote_host_is_refused_everywhere() -> None:
    for build in (
        lambda: LyzrClient(api_key=FAKE_KEY, base_url="http://agents.example.com"),
        lambda: ChatLyzr(agent_id="a", api_key=FAKE_KEY, base_url="http://agents.example.com"),
        lambda: LyzrLLM(agent_id="a", api_key=FAKE_KEY, base_url="http://agents.example.com"),
    ):
        with pytest.raises(InvalidRequestError, match="allow_insecure_http") as info:
            build()
        assert_clean(str(info.value), "the refusal message")
        assert "plain http" in str(info.value)
    opted_in = LyzrClient(
        api_key=FAKE_KEY, base_url="http://agents.example.com", allow_insecure_http=True
    )
    assert opted_in.settings.base_url == "http://agents.example.com"
    LyzrClient(api_key="k", base_url="http://localhost:8080")  # loopback needs no opt-in


def test_path_parameters_are_encoded(keyed_emulator: Emulator) -> None:
    from lyzr_stream.dialects import get_dialect
    from lyzr_stream.dialects._base import Credentials

    dialect = get_dialect("aisquare")
    with pytest.raises(InvalidRequestError, match="integer"):
        dialect.validate(AgentRequest(agent_id="m", message="hi", session_id="1/../../admin"))
    http = dialect.stream_request(
        AgentRequest(agent_id="m", message="hi", session_id="42", user_id="u"),
        Credentials(api_key=SecretStr(FAKE_KEY)),
    )
    assert http.path.endswith("/42/")
    assert_clean(repr(http), "repr(HttpRequest)")
    chat = get_dialect("chat-messages")
    with pytest.raises(InvalidRequestError, match="UUID"):
        chat.validate(AgentRequest(agent_id="m", message="hi", session_id="../admin", user_id="u"))
