"""The request model refuses bad input before anything is sent, naming the field."""

from __future__ import annotations

import math

import pytest

from lyzr_stream import AgentRequest, ChatMessage, InvalidRequestError


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"agent_id": "", "message": "x"}, "agent_id"),
        ({"agent_id": "  ", "message": "x"}, "agent_id"),
        ({"agent_id": "a", "message": ""}, "message must be a non-empty string"),
        ({"agent_id": "a", "message": 5}, "message"),
        (
            {"agent_id": "a", "message": "x", "system_prompt_variables": {"k": object()}},
            "system_prompt_variables",
        ),
        (
            {"agent_id": "a", "message": "x", "filter_variables": {"k": math.nan}},
            "filter_variables",
        ),
        ({"agent_id": "a", "message": "x", "session_id": " "}, "session_id"),
        ({"agent_id": "a", "message": "x", "unknown": 1}, "unknown"),
    ],
)
def test_bad_requests_are_rejected_with_a_named_field(
    kwargs: dict[str, object], pattern: str
) -> None:
    with pytest.raises(InvalidRequestError, match=pattern):
        AgentRequest(**kwargs)


def test_invalid_request_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        AgentRequest(agent_id="", message="x")


def test_messages_allow_an_empty_message() -> None:
    req = AgentRequest(agent_id="a", messages=[ChatMessage(role="user", content="x")])
    assert req.message == ""


def test_agent_request_takes_message_or_messages_never_both() -> None:
    with pytest.raises(InvalidRequestError, match="not both"):
        AgentRequest(agent_id="a", message="x", messages=[ChatMessage(role="user", content="x")])
    with pytest.raises(InvalidRequestError, match="message must be a non-empty string"):
        AgentRequest(agent_id="a", messages=[])
