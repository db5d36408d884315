"""Input validation (before anything is sent) and the shared conversation rules."""

from __future__ import annotations

import math

import pytest

from lyzr_stream import AgentRequest, ChatMessage, InvalidRequestError
from lyzr_stream._adapters.conversation import (
    build_model_call,
    new_turn_text,
    request_fields,
    resolve_call_options,
    transcript_text,
)
from lyzr_stream._http.limits import Timeouts


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


@pytest.mark.parametrize("bad", [-1, 0, math.nan, "10"])
def test_bad_timeouts_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="timeout"):
        Timeouts.coerce(bad)  # type: ignore[arg-type]


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
    assert new_turn_text(history) == "Answer using: context 2\n\nbe brief\n\nsecond"


def test_new_turn_without_assistant_takes_everything() -> None:
    assert new_turn_text([m("system", "S"), m("user", "U")]) == "S\n\nU"


def test_new_turn_ending_with_assistant_is_an_error() -> None:
    with pytest.raises(InvalidRequestError, match="nothing new to send"):
        new_turn_text([m("user", "u"), m("assistant", "a")])


HISTORY = [m("system", "S"), m("user", "a"), m("assistant", "b"), m("user", "c")]


def test_auto_without_session_sends_the_transcript_as_messages_only() -> None:
    fields = request_fields(HISTORY, mode="auto", has_session=False)
    assert fields == {"messages": tuple(HISTORY)}


def test_auto_with_session_sends_the_new_turn_with_the_system_text() -> None:
    assert request_fields(HISTORY, mode="auto", has_session=True) == {"message": "S\n\nc"}


def test_explicit_modes_override_the_session_rule() -> None:
    assert request_fields(HISTORY, mode="turn", has_session=False) == {"message": "S\n\nc"}
    assert request_fields(HISTORY, mode="history", has_session=True) == {
        "messages": tuple(HISTORY)
    }


def test_message_only_dialects_get_earlier_turns_as_text() -> None:
    fields = request_fields(HISTORY, mode="auto", has_session=False, carries_messages=False)
    assert fields == {"message": "S\n\nConversation so far:\nUser: a\nAssistant: b\n\nc"}
    assert transcript_text([m("user", "only")]) == "only"
    turn = request_fields(HISTORY, mode="auto", has_session=True, carries_messages=False)
    assert turn == {"message": "S\n\nc"}


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
        )
        assert call.request.session_id == "s"
        assert call.request.message == "S\n\nc" and call.request.messages is None
        assert call.policy == {"timeout": 5, "max_retries": 0}


def test_agent_request_takes_message_or_messages_never_both() -> None:
    with pytest.raises(InvalidRequestError, match="not both"):
        AgentRequest(agent_id="a", message="x", messages=[m("user", "x")])
    with pytest.raises(InvalidRequestError, match="message must be a non-empty string"):
        AgentRequest(agent_id="a", messages=[])


# -- client-side stop sequences ----------------------------------------------------------------
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lyzr_stream._adapters.stop_sequences import StopFilter, cut_at_stop  # noqa: E402


def test_cut_at_stop() -> None:
    assert cut_at_stop("hello you there", ["you", "xx"]) == ("hello ", True)
    assert cut_at_stop("hello", ["you"]) == ("hello", False)
    assert cut_at_stop("hello", []) == ("hello", False)


def test_stop_filter_holds_only_a_possible_prefix() -> None:
    f = StopFilter(["STOP"])
    assert f.feed("abc ST") == "abc "
    assert f.feed("x") == "STx"
    assert f.feed(" ST") == " "
    assert f.feed("OP rest") == ""
    assert f.stopped
    assert f.feed("more") == ""


@given(st.text(alphabet="abS TOP", max_size=40), st.lists(st.integers(0, 40), max_size=6))
def test_stop_filter_any_fragmentation_equals_whole_cut(text: str, cuts: list[int]) -> None:
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    f = StopFilter(["STOP", "TT"])
    out = "".join(f.feed(p) for p in pieces) + f.finish()
    assert out == cut_at_stop(text, ["STOP", "TT"])[0]
