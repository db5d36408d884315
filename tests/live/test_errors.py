"""Errors: a wrong key, an unknown agent. Neither spends an agent run: the service refuses the
request before any agent starts."""

from __future__ import annotations

import json
import uuid

import pytest

from lyzr_stream import (
    AgentError,
    AgentRequest,
    APIStatusError,
    AuthenticationError,
    LyzrError,
)

from .contract import Target
from .support import new_client


@pytest.mark.live(item="wrong-key", runs=0)
def test_a_wrong_key_is_a_401_and_an_authentication_error(target: Target) -> None:
    wrong = "sk-lyzr-conformance-" + uuid.uuid4().hex  # never a real key
    agent = target.agent("agent") or "lyzr-stream-conformance"
    with new_client(target, api_key=wrong, max_retries=0) as client:
        with pytest.raises(AuthenticationError) as caught:
            client.chat(AgentRequest(agent_id=agent, message="hello"))
    assert caught.value.status_code == 401
    assert wrong not in str(caught.value)


def _service_text(body: object) -> str:
    """What the service said, as its error body holds it."""
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            if key in body:
                value = body[key]
                return value if isinstance(value, str) else json.dumps(value)
    return body if isinstance(body, str) else json.dumps(body)


@pytest.mark.live(item="unknown-agent", runs=0)
def test_an_unknown_agent_is_a_typed_error_naming_what_the_service_said(target: Target) -> None:
    unknown = "000000000000000000000000-conformance-" + uuid.uuid4().hex[:8]
    with new_client(target, max_retries=0) as client:
        with pytest.raises(LyzrError) as caught:
            client.chat(AgentRequest(agent_id=unknown, message="hello"))
    error = caught.value
    assert isinstance(error, APIStatusError | AgentError), f"untyped: {type(error).__name__}"
    assert not isinstance(error, AuthenticationError), f"refused for the key: {error}"
    if isinstance(error, APIStatusError):
        assert 400 <= error.status_code < 600
        said = _service_text(error.body).strip()
        assert said, "the service's error body said nothing"
        assert said[:80] in str(error), f"the message does not quote the service: {error}"
    else:
        assert str(error).strip()
