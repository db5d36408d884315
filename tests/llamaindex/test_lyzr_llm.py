"""LyzrLLM over real sockets against the emulator: the eight methods, sessions, results."""

from __future__ import annotations

import asyncio
import itertools
import pickle
from concurrent.futures import ThreadPoolExecutor

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ThinkingBlock

from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import InvalidRequestError
from lyzr_stream.emulator import Emulator
from tests.helpers import activity_dialect  # noqa: F401  (registers the "test-activity" dialect)

from .conftest import EventRecorder, LLMFactory


def user(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)


def sessions(em: Emulator) -> list[str]:
    return [r.json["session_id"] for r in em.requests]


# -- the eight methods -----------------------------------------------------------------------
def test_complete_and_chat(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm()
    assert llm.complete("hello").text == "You said: hello"
    response = llm.chat([user("hi")])
    assert response.message.content == "You said: hi"
    assert response.message.role == MessageRole.ASSISTANT
    assert response.raw is not None and response.raw["response"] == "You said: hi"
    assert {r.path for r in lyzr_emulator.requests} == {"/v3/inference/chat/"}


def test_stream_complete_and_stream_chat(make_llm: LLMFactory) -> None:
    llm = make_llm()
    responses = list(llm.stream_complete("a b c"))
    assert "".join(r.delta or "" for r in responses) == "You said: a b c"
    assert responses[-1].text == "You said: a b c"
    texts = [r.text for r in responses]
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    chats = list(llm.stream_chat([user("d e")]))
    assert "".join(r.delta or "" for r in chats) == chats[-1].message.content == "You said: d e"


async def test_async_methods(make_llm: LLMFactory) -> None:
    llm = make_llm()
    assert (await llm.acomplete("a")).text == "You said: a"
    assert (await llm.achat([user("b")])).message.content == "You said: b"
    deltas = [r.delta async for r in await llm.astream_complete("c d")]
    assert "".join(d or "" for d in deltas) == "You said: c d"
    chats = [r async for r in await llm.astream_chat([user("e f")])]
    assert chats[-1].message.content == "You said: e f"
    assert "".join(r.delta or "" for r in chats) == "You said: e f"


def test_metadata(make_llm: LLMFactory) -> None:
    meta = make_llm(context_window=32_000).metadata
    assert meta.is_chat_model and meta.is_function_calling_model
    assert (meta.model_name, meta.context_window, meta.num_output) == ("echo", 32_000, 4_096)
    assert LyzrLLM.class_name() == "LyzrLLM"


def test_dispatcher_events_for_chat_and_completion(
    make_llm: LLMFactory, recorder: EventRecorder
) -> None:
    llm = make_llm(coalesce=False)
    responses = list(llm.stream_chat([user("one two")]))
    names = recorder.names()
    assert names[0] == "LLMChatStartEvent" and names[-1] == "LLMChatEndEvent"
    assert names.count("LLMChatInProgressEvent") == len(responses)
    recorder.events.clear()
    list(llm.stream_complete("x"))
    names = recorder.names()
    assert names[0] == "LLMCompletionStartEvent" and names[-1] == "LLMCompletionEndEvent"
    assert "LLMCompletionInProgressEvent" in names


async def test_dispatcher_events_async(make_llm: LLMFactory, recorder: EventRecorder) -> None:
    async for _ in await make_llm().astream_chat([user("x")]):
        pass
    names = recorder.names()
    assert names[0] == "LLMChatStartEvent" and names[-1] == "LLMChatEndEvent"


# -- sessions --------------------------------------------------------------------------------
def test_session_priority(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm(session_id="ctor")
    llm.complete("a")
    with llm.session(session_id="scoped"):
        llm.complete("b")
        llm.complete("c", session_id="kw")
        with llm.session(session_id="inner"):
            llm.complete("d")
        llm.complete("e")
    llm.complete("f")
    assert sessions(lyzr_emulator) == ["ctor", "scoped", "kw", "inner", "scoped", "ctor"]


def test_calls_without_a_session_are_independent(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    # Sessions are explicit state: one Settings.llm shared by several engines mixes nothing.
    llm = make_llm("memory")
    answers = [llm.complete(word).text for word in ("apple", "banana", "cherry")]
    answers.append("".join(r.delta or "" for r in llm.stream_chat([user("date")])))
    assert answers == ["This is the start of our conversation."] * 4
    assert len(set(sessions(lyzr_emulator))) == 4


async def test_async_calls_without_a_session_are_independent(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("memory")
    results = await asyncio.gather(*(llm.acomplete(w) for w in ("apple", "banana", "cherry")))
    assert [r.text for r in results] == ["This is the start of our conversation."] * 3
    streamed = [r async for r in await llm.astream_chat([user("date")])]
    assert streamed[-1].message.content == "This is the start of our conversation."
    assert len(set(sessions(lyzr_emulator))) == 4


def test_scope_merges_variables(make_llm: LLMFactory) -> None:
    llm = make_llm("vars", system_prompt_variables={"a": 1})
    with (
        llm.session(system_prompt_variables={"b": 2}),
        llm.session(system_prompt_variables={"c": 3}),
    ):
        text = llm.complete("x", system_prompt_variables={"d": 4}).text
    assert text.startswith('system_prompt_variables={"a": 1, "b": 2, "c": 3, "d": 4}')


def test_scope_applies_to_a_stream_consumed_later(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm()
    with llm.session(session_id="early"):
        gen = llm.stream_complete("x")
    list(gen)
    assert sessions(lyzr_emulator) == ["early"]


def test_scopes_are_per_thread(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm()

    def work(i: int) -> str:
        with llm.session(session_id=f"thread-{i}"):
            return llm.complete(f"m{i}").additional_kwargs["session_id"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(16)))
    assert results == [f"thread-{i}" for i in range(16)]
    for recorded in lyzr_emulator.requests:
        assert recorded.json["session_id"] == "thread-" + recorded.json["message"][1:]


async def test_scopes_are_per_task(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm()

    async def work(i: int) -> str:
        async with llm.session(session_id=f"task-{i}"):
            await asyncio.sleep(0.001 * (16 - i))
            chunks = [r async for r in await llm.astream_complete(f"m{i}")]
            return chunks[-1].additional_kwargs["session_id"]

    results = await asyncio.gather(*(work(i) for i in range(16)))
    assert results == [f"task-{i}" for i in range(16)]
    for recorded in lyzr_emulator.requests:
        assert recorded.json["session_id"] == "task-" + recorded.json["message"][1:]


def test_scope_belongs_to_one_instance(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    first, second = make_llm(session_id="one"), make_llm(session_id="two")
    with first.session(session_id="scoped"):
        second.complete("x")
    assert sessions(lyzr_emulator) == ["two"]


def test_bad_scope_options(make_llm: LLMFactory) -> None:
    with pytest.raises(InvalidRequestError, match="unknown option"):
        make_llm().session(sessionid="x")
    with pytest.raises(InvalidRequestError, match="must be a dict"):
        make_llm().session(system_prompt_variables=["x"])


# -- messages and results --------------------------------------------------------------------
def test_turn_and_history_modes(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    history = [
        ChatMessage(role=MessageRole.SYSTEM, content="sys"),
        user("q1"),
        ChatMessage(role=MessageRole.ASSISTANT, content="a1"),
        user("q2"),
    ]
    # auto (default), no session: the whole transcript as messages, no message field.
    make_llm().chat(history)
    body = lyzr_emulator.requests[-1].json
    assert "message" not in body
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    # auto with a session: only the new turn, the system text with it.
    make_llm(session_id="s").chat(history)
    assert lyzr_emulator.requests[-1].json["message"] == "sys\n\nq2"
    assert "messages" not in lyzr_emulator.requests[-1].json
    # explicit modes
    make_llm(message_mode="turn").chat(history)
    assert lyzr_emulator.requests[-1].json["message"] == "sys\n\nq2"
    make_llm(message_mode="history", session_id="s").chat(history)
    body = lyzr_emulator.requests[-1].json
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["session_id"] == "s"


def test_non_text_blocks_are_refused(make_llm: LLMFactory) -> None:
    from llama_index.core.base.llms.types import AudioBlock, TextBlock

    message = ChatMessage(
        role=MessageRole.USER,
        blocks=[TextBlock(text="look"), AudioBlock(audio=b"RIFF0000WAVE", format="wav")],
    )
    with pytest.raises(InvalidRequestError, match="'audio' block"):
        make_llm().chat([message])


def test_results_carry_ids_artifacts_and_timing(make_llm: LLMFactory) -> None:
    response = make_llm("artifacts", session_id="s1").chat([user("x")])
    extras = response.additional_kwargs
    assert extras["session_id"] == "s1" and extras["message_id"]
    assert extras["artifacts"][0]["name"] == "report.txt"
    last = list(make_llm(session_id="s2").stream_chat([user("x")]))[-1]
    assert last.additional_kwargs["time_to_first_token"] >= 0
    assert last.message.additional_kwargs["session_id"] == "s2"


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_goes_to_a_thinking_block(make_llm: LLMFactory, stream: bool) -> None:
    llm = make_llm("reasoning")
    if stream:
        responses = list(llm.stream_chat([user("x")]))
        thinking = "".join(r.additional_kwargs.get("thinking_delta", "") for r in responses)
        assert thinking == "Let me think about it."
        assert "".join(r.delta or "" for r in responses) == "The answer is 42."
        response = responses[-1]
    else:
        response = llm.chat([user("x")])
    assert response.message.content == "The answer is 42."
    [block] = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert block.content == "Let me think about it."


def test_server_tool_activity(make_llm: LLMFactory, recorder: EventRecorder) -> None:
    responses = list(make_llm(dialect="test-activity").stream_chat([user("q")]))
    activity = [
        r.additional_kwargs["tool_activity"]
        for r in responses
        if "tool_activity" in r.additional_kwargs and r.delta == ""
    ]
    assert [a["phase"] for a in activity[:2]] == ["call", "result"]
    events = [e for e in recorder.events if type(e).__name__ == "LyzrToolActivityEvent"]
    assert [(e.phase, e.tool_name) for e in events] == [("call", "search"), ("result", "search")]
    assert responses[-1].message.content == "You said: q"


# -- errors, early exit, secrets -------------------------------------------------------------


def test_missing_key(no_lyzr_env: None) -> None:
    with pytest.raises(ValueError, match="LYZR_API_KEY"):
        LyzrLLM(agent_id="a")


def test_pickle_round_trip(
    make_llm: LLMFactory, lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = make_llm(session_id="p")
    llm.client._sync_http()
    data = pickle.dumps(llm)
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    assert pickle.loads(data).complete("hi").text == "You said: hi"
