"""The conversation rules: option layers, the new turn, message or messages, the model call."""

from __future__ import annotations

import pytest

from lyzr_stream import ChatMessage, InvalidRequestError
from lyzr_stream._adapters.conversation import (
    build_model_call,
    mark_context,
    new_turn_text,
    request_fields,
    resolve_call_options,
    transcript_text,
    turn_prints,
)


def test_resolve_call_options_priority_and_merge() -> None:
    options = resolve_call_options(
        {"session_id": "ctor", "user_id": "u0", "system_prompt_variables": {"a": 1, "b": 1}},
        {"session_id": "cfg", "system_prompt_variables": {"b": 2}, "thread_id": "t"},
        {"session_id": None, "system_prompt_variables": {"c": 3}, "assets": ["x"]},
    )
    assert options.session_id == "cfg"
    assert options.user_id == "u0"
    assert options.system_prompt_variables == {"a": 1, "b": 2, "c": 3}
    assert options.assets == ("x",)


def test_resolve_call_options_fallback_session() -> None:
    assert resolve_call_options({}, fallback_session_id="thread-1").session_id == "thread-1"
    assert resolve_call_options({"session_id": "s"}, fallback_session_id="t").session_id == "s"


def test_resolve_call_options_type_errors() -> None:
    with pytest.raises(InvalidRequestError, match="system_prompt_variables must be a dict"):
        resolve_call_options({"system_prompt_variables": ["x"]})
    with pytest.raises(InvalidRequestError, match="session_id"):
        resolve_call_options({"session_id": 3})


def m(role: str, content: str) -> ChatMessage:
    return ChatMessage(role=role, content=content)  # type: ignore[arg-type]


def test_new_turn_sends_every_system_message_with_the_tail() -> None:
    # The prompt's instructions and retrieved context are part of every turn, wherever they are.
    history = [
        m("system", "Answer using: context 2"),
        m("user", "first"),
        m("assistant", "answer"),
        m("user", "second"),
        m("system", "be brief"),
    ]
    expected = mark_context(["Answer using: context 2", "be brief"]) + "\n\nsecond"
    assert new_turn_text(history) == expected


def test_new_turn_without_assistant_takes_everything() -> None:
    assert new_turn_text([m("system", "S"), m("user", "U")]) == mark_context(["S"]) + "\n\nU"


def test_new_turn_ending_with_assistant_is_an_error() -> None:
    with pytest.raises(InvalidRequestError, match="nothing new to send"):
        new_turn_text([m("user", "u"), m("assistant", "a")])


HISTORY = [m("system", "S"), m("user", "a"), m("assistant", "b"), m("user", "c")]


def test_auto_without_session_sends_the_transcript_as_messages_only() -> None:
    fields = request_fields(HISTORY, mode="auto", has_session=False)
    assert fields == {"messages": tuple(HISTORY)}


def test_auto_with_session_sends_the_new_turn_with_the_system_text() -> None:
    assert request_fields(HISTORY, mode="auto", has_session=True) == {
        "message": mark_context(["S"]) + "\n\nc"
    }


def test_explicit_modes_override_the_session_rule() -> None:
    assert request_fields(HISTORY, mode="turn", has_session=False) == {
        "message": mark_context(["S"]) + "\n\nc"
    }
    assert request_fields(HISTORY, mode="history", has_session=True) == {"messages": tuple(HISTORY)}


def test_message_only_dialects_get_earlier_turns_as_text() -> None:
    fields = request_fields(HISTORY, mode="auto", has_session=False, carries_messages=False)
    assert fields == {"message": "S\n\nConversation so far:\nUser: a\nAssistant: b\n\nc"}
    assert transcript_text([m("user", "only")]) == "only"
    turn = request_fields(HISTORY, mode="auto", has_session=True, carries_messages=False)
    assert turn == {"message": mark_context(["S"]) + "\n\nc"}


def test_build_model_call_is_stateless_without_a_session() -> None:
    call = build_model_call(
        HISTORY, agent_id="a", option_layers=({"user_id": "u"}, None, {"timeout": 5})
    )
    assert call.request.session_id is None  # the client makes a fresh one per call
    assert call.request.message == "" and call.request.messages == tuple(HISTORY)
    assert call.policy == {}


def test_build_model_call_with_session_from_any_layer_or_fallback() -> None:
    for layers, fallback in (
        (({"session_id": "s"}, {}, {}), None),
        (({}, {"session_id": "s"}, {}), None),
        (({}, {}, {"session_id": "s"}), None),
        (({}, {}, {}), "s"),
    ):
        call = build_model_call(
            HISTORY,
            agent_id="a",
            option_layers=layers,
            fallback_session_id=fallback,
            policy={"timeout": 5, "max_retries": 0, "session_id": "ignored"},
            memory=lambda _: turn_prints(HISTORY[:3]),  # the session holds the earlier turns
        )
        assert call.request.session_id == "s"
        assert call.request.message == mark_context(["S"]) + "\n\nc"
        assert call.request.messages is None
        assert call.policy == {"timeout": 5, "max_retries": 0}
