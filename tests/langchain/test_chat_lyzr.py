"""ChatLyzr over real sockets against the emulator: calls, sessions, messages, results, errors."""

from __future__ import annotations

import asyncio
import pickle
import warnings
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, load
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.runnables import ConfigurableField

from langchain_lyzr_stream import ChatLyzr
from lyzr_stream import InvalidRequestError
from lyzr_stream.emulator import Emulator
from tests.conftest import FAKE_KEY

from .conftest import ModelFactory


class TokenRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.chunks: list[Any] = []
        self.custom: list[tuple[str, Any]] = []

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        self.tokens.append(token)
        self.chunks.append(chunk)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.custom.append((name, data))


def sessions(em: Emulator) -> list[str]:
    return [r.json["session_id"] for r in em.requests]


# -- the four calls --------------------------------------------------------------------------
def test_invoke_uses_the_one_shot_endpoint(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    message = make_model().invoke("hello")
    assert isinstance(message, AIMessage)
    assert message.content == "You said: hello"
    assert lyzr_emulator.requests[-1].path == "/v3/inference/chat/"


def test_stream_yields_chunks_then_a_last_chunk(make_model: ModelFactory) -> None:
    chunks = list(make_model().stream("one two three"))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(c.text for c in chunks) == "You said: one two three"
    assert len(chunks) > 2
    assert chunks[-1].chunk_position == "last"
    assert chunks[-1].response_metadata["finish_reason"] == "stop"


async def test_ainvoke_and_astream(make_model: ModelFactory) -> None:
    model = make_model()
    assert (await model.ainvoke("a")).content == "You said: a"
    chunks = [c async for c in model.astream("b c")]
    assert "".join(c.text for c in chunks) == "You said: b c"
    assert chunks[-1].chunk_position == "last"


def test_invoke_with_streaming_equals_the_concatenated_stream(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model(streaming=True)
    recorder = TokenRecorder()
    message = model.invoke("x y z", config={"callbacks": [recorder]})
    assert lyzr_emulator.requests[-1].path == "/v3/inference/stream/"
    streamed = "".join(c.text for c in model.stream("x y z"))
    assert message.content == streamed == "You said: x y z"
    # One token callback per text delta, then the closing chunk marked last.
    assert "".join(recorder.tokens) == streamed
    assert recorder.chunks[-1].message.chunk_position == "last"
    assert all(t for t in recorder.tokens[:-1])


def test_on_llm_new_token_once_per_delta_when_streaming(make_model: ModelFactory) -> None:
    recorder = TokenRecorder()
    chunks = list(make_model(coalesce=False).stream("a b", config={"callbacks": [recorder]}))
    assert len(recorder.tokens) == len(chunks)
    assert [c.message.content for c in recorder.chunks] == [c.content for c in chunks]
    assert isinstance(recorder.chunks[0], ChatGenerationChunk)


def test_batch_and_abatch(make_model: ModelFactory) -> None:
    model = make_model()
    assert [m.content for m in model.batch(["a", "b"])] == ["You said: a", "You said: b"]
    results = asyncio.run(model.abatch(["c", "d"]))
    assert [m.content for m in results] == ["You said: c", "You said: d"]


# -- sessions --------------------------------------------------------------------------------
def test_calls_without_a_session_are_independent(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    # Sessions are explicit state: no session id anywhere -> a fresh server session per call.
    model = make_model("memory")
    replies = model.batch(["apple", "banana", "cherry"])
    assert [r.text for r in replies] == ["This is the start of our conversation."] * 3
    first = model.invoke("a").response_metadata["session_id"]
    second = list(model.stream("b"))[-1].response_metadata["session_id"]
    assert first != second
    assert len(set(sessions(lyzr_emulator))) == 5


def test_session_priority_constructor_config_kwargs(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model(session_id="ctor")
    model.invoke("a")
    model.invoke("b", config={"configurable": {"session_id": "cfg"}})
    model.invoke("c", config={"configurable": {"session_id": "cfg"}}, session_id="kw")
    assert sessions(lyzr_emulator) == ["ctor", "cfg", "kw"]


def test_thread_id_is_the_session_when_none_is_given(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    make_model().invoke("a", config={"configurable": {"thread_id": "thread-7"}})
    make_model(session_id="explicit").invoke("b", config={"configurable": {"thread_id": "t"}})
    assert sessions(lyzr_emulator) == ["thread-7", "explicit"]


def test_system_prompt_variables_merge_key_by_key(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("vars", system_prompt_variables={"a": 1, "b": 1}, filter_variables={"f": 0})
    text = model.invoke(
        "x",
        config={"configurable": {"system_prompt_variables": {"b": 2, "c": 2}}},
        system_prompt_variables={"c": 3},
        filter_variables={"g": 1},
    ).content
    assert (
        text == 'system_prompt_variables={"a": 1, "b": 2, "c": 3} filter_variables={"f": 0, "g": 1}'
    )


def test_user_id_from_env_and_explicit(
    make_model: ModelFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYZR_USER_ID", "env-user")
    assert make_model().invoke("a").response_metadata["user_id"] == "env-user"
    assert make_model(user_id="ctor-user").invoke("a").response_metadata["user_id"] == "ctor-user"
    model = make_model()
    assert model.invoke("a", user_id="kw-user").response_metadata["user_id"] == "kw-user"
    meta = model.invoke("a", config={"configurable": {"user_id": "cfg"}}).response_metadata
    assert meta["user_id"] == "cfg"


def test_session_options_in_streams_and_async(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model()
    list(model.stream("a", config={"configurable": {"session_id": "s-stream"}}))

    async def go() -> None:
        await model.ainvoke("b", config={"configurable": {"session_id": "s-ainvoke"}})
        async for _ in model.astream("c", session_id="s-astream"):
            pass

    asyncio.run(go())
    assert sessions(lyzr_emulator) == ["s-stream", "s-ainvoke", "s-astream"]


async def test_concurrent_abatch_calls_never_mix_sessions(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("memory")
    inputs_a = [f"a{i}" for i in range(6)]
    inputs_b = [f"b{i}" for i in range(6)]
    await asyncio.gather(
        model.abatch(inputs_a, config={"configurable": {"session_id": "sess-a"}}),
        model.abatch(inputs_b, config={"configurable": {"session_id": "sess-b"}}),
    )
    for recorded in lyzr_emulator.requests:
        expected = "sess-a" if recorded.json["message"].startswith("a") else "sess-b"
        assert recorded.json["session_id"] == expected
    # Each session's memory holds only its own messages.
    earlier = (await model.ainvoke("?", session_id="sess-a")).text
    assert all(m in earlier for m in inputs_a) and not any(m in earlier for m in inputs_b)


def test_configurable_fields(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    model = make_model().configurable_fields(
        session_id=ConfigurableField(id="lyzr_session"),
        agent_id=ConfigurableField(id="agent"),
    )
    reply = model.invoke("hi", config={"configurable": {"lyzr_session": "cf", "agent": "memory"}})
    assert reply.content == "This is the start of our conversation."
    assert sessions(lyzr_emulator) == ["cf"]
    assert make_model().with_config(configurable={"session_id": "wc"}).invoke("x").content


# -- messages --------------------------------------------------------------------------------
def test_turn_mode_sends_only_the_new_turn(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    make_model(session_id="s").invoke(
        [
            SystemMessage("old rules"),
            HumanMessage("first"),
            AIMessage("first answer"),
            HumanMessage("second"),
            SystemMessage("be brief"),
        ]
    )
    body = lyzr_emulator.requests[-1].json
    # With a session, only the new turn goes out; every system message is part of it.
    assert body["message"] == "old rules\n\nbe brief\n\nsecond"
    assert "messages" not in body


def test_history_mode_sends_the_transcript(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    make_model(message_mode="history").invoke(
        [SystemMessage("sys"), HumanMessage("q1"), AIMessage("a1"), HumanMessage("q2")]
    )
    body = lyzr_emulator.requests[-1].json
    assert "message" not in body  # message and messages are alternatives
    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
    ]


def test_non_text_blocks_are_refused_before_sending(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    image = HumanMessage(
        content=[
            {"type": "text", "text": "look"},
            {"type": "audio", "base64": "AAAA", "mime_type": "audio/wav"},
        ]
    )
    with pytest.raises(InvalidRequestError, match="'audio' content block"):
        make_model().invoke([image])
    assert lyzr_emulator.requests == []


def test_text_blocks_are_joined(make_model: ModelFactory) -> None:
    message = HumanMessage(content=[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
    assert make_model().invoke([message]).content == "You said: ab"


def test_unknown_per_call_argument_is_an_error(make_model: ModelFactory) -> None:
    with pytest.raises(InvalidRequestError, match="unexpected argument"):
        make_model().invoke("x", sesion_id="typo")


# -- results ---------------------------------------------------------------------------------
def test_response_metadata(make_model: ModelFactory) -> None:
    meta = make_model("artifacts", session_id="s1", user_id="u1").invoke("x").response_metadata
    assert meta["agent_id"] == meta["model_name"] == "artifacts"
    assert (meta["session_id"], meta["user_id"]) == ("s1", "u1")
    assert meta["message_id"]
    assert meta["finish_reason"] == "stop"
    assert meta["artifacts"][0]["name"] == "report.txt"
    last = list(make_model(session_id="s2").stream("x"))[-1].response_metadata
    assert last["time_to_first_token"] >= 0
    assert last["total_time"] >= last["time_to_first_token"]


def test_no_invented_usage(make_model: ModelFactory) -> None:
    assert make_model().invoke("x").usage_metadata is None


@pytest.mark.parametrize("streaming", [False, True])
def test_reasoning_is_a_block_not_answer_text(make_model: ModelFactory, streaming: bool) -> None:
    message = make_model("reasoning", streaming=streaming).invoke("x")
    assert message.text == "The answer is 42."
    assert message.additional_kwargs["reasoning_content"] == "Let me think about it."
    blocks = message.content_blocks
    assert blocks[0] == {"type": "reasoning", "reasoning": "Let me think about it."}
    assert {"type": "text", "text": "The answer is 42."} in blocks


def test_stop_sequences_cut_the_answer(make_model: ModelFactory) -> None:
    assert make_model().invoke("a b STOP c", stop=["STOP"]).content == "You said: a b "
    chunks = list(make_model().stream("a b STOP c", stop=["STOP"]))
    assert "".join(c.text for c in chunks) == "You said: a b "
    assert make_model(stop=["b"]).invoke("a b").content == "You said: a "


def test_per_call_agent(make_model: ModelFactory) -> None:
    message = make_model().invoke("x", model="memory")
    assert message.response_metadata["model_name"] == "memory"


def test_ignored_generation_settings_warn() -> None:
    with pytest.warns(UserWarning, match="ignores temperature"):
        ChatLyzr(agent_id="a", api_key="k", temperature=0.2)


# -- errors and early exit -------------------------------------------------------------------


# -- conventions and secrets -----------------------------------------------------------------
def test_langchain_conventions() -> None:
    model = ChatLyzr(agent_id="a1", api_key=FAKE_KEY)
    assert model._llm_type == "lyzr"
    assert model._identifying_params["agent_id"] == "a1"
    ls = model._get_ls_params()
    assert (ls["ls_provider"], ls["ls_model_name"], ls["ls_model_type"]) == ("lyzr", "a1", "chat")
    assert model.lc_secrets == {"api_key": "LYZR_API_KEY"}


def test_missing_key_is_an_error_at_construction(no_lyzr_env: None) -> None:
    with pytest.raises(ValueError, match="LYZR_API_KEY"):
        ChatLyzr(agent_id="a")


def test_serialization_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    model = ChatLyzr(agent_id="a1", api_key=FAKE_KEY, session_id="s", timeout=30)
    monkeypatch.setenv("LYZR_API_KEY", FAKE_KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load(
            dumpd(model),
            allowed_objects=[ChatLyzr],
            valid_namespaces=["langchain_lyzr_stream"],
            secrets_from_env=True,
        )
    assert isinstance(loaded, ChatLyzr)
    assert (loaded.agent_id, loaded.session_id, loaded.timeout) == ("a1", "s", 30)
    assert loaded.api_key is not None and loaded.api_key.get_secret_value() == FAKE_KEY


def test_pickle_has_no_key_and_takes_it_from_env(
    make_model: ModelFactory, lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_model(api_key=FAKE_KEY, session_id="p")
    model.client._sync_http()  # a live pool must not go into the pickle
    data = pickle.dumps(model)
    assert FAKE_KEY.encode() not in data
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    clone = pickle.loads(data)
    assert clone.invoke("hi").content == "You said: hi"
    monkeypatch.delenv("LYZR_API_KEY")
    with pytest.raises(InvalidRequestError, match="LYZR_API_KEY"):
        pickle.loads(data)
