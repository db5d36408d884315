"""The conversation rules: option layers, the new turn, message or messages, the model call."""

from __future__ import annotations

import uuid

import pytest

from lyzr_stream import ChatMessage, InvalidRequestError, ToolSpec
from lyzr_stream._adapters.conversation import (
    ANSWER,
    HELD,
    build_model_call,
    holds,
    mark_context,
    new_turn_text,
    request_fields,
    resolve_call_options,
    strip_context,
    transcript_text,
    turn_prints,
)
from lyzr_stream._adapters.session_memory import SessionRecord
from lyzr_stream.dialects._aisquare import AISquareDialect
from lyzr_stream.dialects._chat_messages import ChatMessagesDialect
from lyzr_stream.dialects._lyzr_v3 import LyzrV3Dialect


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


# -- the session rule: the prompt is the truth, the memory a cache (#26) ----------------------
def _call(messages: list[ChatMessage], record: object, **kw: object) -> object:
    return build_model_call(
        messages,
        agent_id="a",
        option_layers=({"session_id": "s"}, {}, kw.pop("per_call", {})),  # type: ignore[arg-type]
        memory=lambda _: record,  # type: ignore[arg-type, return-value]
        **kw,  # type: ignore[arg-type]
    )


def test_session_record_decides_what_is_sent() -> None:
    earlier = turn_prints(HISTORY[:3])
    # the session holds the earlier turns: the new turn, and the record grows by it
    call = _call(HISTORY, earlier)
    assert call.request.session_id == "s" and call.request.messages is None  # type: ignore[attr-defined]
    assert call.remember == ("s", (*earlier, *turn_prints(HISTORY[3:]), ANSWER))  # type: ignore[attr-defined]
    # the agent's answer this process did not see matches any assistant turn
    assert _call(HISTORY, (*turn_prints(HISTORY[1:2]), ANSWER)).request.session_id == "s"  # type: ignore[attr-defined]
    # the memory disagrees: the whole transcript, to a fresh session
    call = _call(HISTORY, turn_prints([m("user", "other"), m("assistant", "b")]))
    assert call.request.session_id is None and call.request.messages == tuple(HISTORY)  # type: ignore[attr-defined]
    # unknown: read once (only where the dialect has a history route)
    assert _call(HISTORY, None, dialect=LyzrV3Dialect()).learn == "s"  # type: ignore[attr-defined]
    assert _call(HISTORY, None).request.session_id is None  # type: ignore[attr-defined]
    # no earlier turns: the caller relies on the memory as it is
    call = _call([m("user", "hi")], None)
    assert call.request.session_id == "s" and call.remember == (
        "s",
        (HELD, *turn_prints([m("user", "hi")]), ANSWER),
    )  # type: ignore[attr-defined]
    assert holds(call.remember[1], (*turn_prints([m("user", "hi")]), ("assistant", b"x")))  # type: ignore[attr-defined]


def test_internal_calls_leave_the_session_unless_asked_per_call() -> None:
    forced = {"tools": [ToolSpec(name="f")], "tool_choice": "any"}
    assert _call([m("user", "x")], None, **forced).request.session_id is None  # type: ignore[attr-defined]
    assert _call([m("user", "x")], None, response_format={}).request.session_id is None  # type: ignore[attr-defined]
    assert _call([m("user", "x")], None, internal=True).request.session_id is None  # type: ignore[attr-defined]
    asked = _call([m("user", "x")], None, internal=True, per_call={"session_id": "s"})
    assert asked.request.session_id == "s"  # type: ignore[attr-defined]
    auto = {"tools": [ToolSpec(name="f")], "tool_choice": "auto"}
    assert _call([m("user", "x")], None, **auto).request.session_id == "s"  # type: ignore[attr-defined]


def test_trailing_assistant_or_system_is_answered_from_the_transcript() -> None:
    review = [m("user", "draft it"), m("assistant", "draft"), m("system", "Review it.")]
    call = _call(review, turn_prints(review))
    assert call.request.session_id is None and call.request.messages == tuple(review)  # type: ignore[attr-defined]
    text = request_fields(review, mode="auto", has_session=True, carries_messages=False)
    assert text["message"].endswith("Continue the conversation as the assistant.")
    assert "Assistant: draft" in text["message"] and text["message"].startswith("Review it.")


def test_session_keys_take_each_dialect_form() -> None:
    assert LyzrV3Dialect().session_id_for("t-1") == "t-1"
    chat = ChatMessagesDialect().session_id_for("t-1")
    assert chat == ChatMessagesDialect().session_id_for("t-1") and str(uuid.UUID(chat)) == chat
    uid = str(uuid.uuid4())
    assert ChatMessagesDialect().session_id_for(uid) == uid
    number = AISquareDialect().session_id_for("t-1")
    assert number.isdecimal() and number == AISquareDialect().session_id_for("t-1")
    assert AISquareDialect().session_id_for("42") == "42"


def test_context_block_is_cut_off_and_the_record_is_bounded() -> None:
    assert strip_context(mark_context(["S"]) + "\n\nwords") == "words"
    assert strip_context("plain") == "plain"
    record = SessionRecord(size=2)
    for key in ("a", "b", "c"):
        record.put(key, ())
    assert len(record) == 2 and record.get("a") is None and record.get("c") == ()


def test_a_dialect_without_fresh_sessions_gets_the_transcript_as_text() -> None:
    review = [m("user", "draft it"), m("assistant", "draft"), m("system", "Review it.")]
    call = _call(review, None, dialect=AISquareDialect())
    assert call.request.session_id == str(AISquareDialect().session_id_for("s"))  # type: ignore[attr-defined]
    assert call.request.messages is None  # type: ignore[attr-defined]
    assert call.request.message.endswith("Continue the conversation as the assistant.")  # type: ignore[attr-defined]
    call = _call(HISTORY, None, dialect=AISquareDialect())  # no history route: the transcript
    assert "Conversation so far:" in call.request.message  # type: ignore[attr-defined]
