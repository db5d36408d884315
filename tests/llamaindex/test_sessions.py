"""The session rule in LlamaIndex: stateless unless a session is given; session scopes."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.prompts import ChatPromptTemplate

from lyzr_stream import InvalidRequestError
from lyzr_stream._adapters.conversation import mark_context
from lyzr_stream.emulator import Emulator
from tests.helpers.bodies import agent_bodies
from tests.llamaindex.conftest import LLMFactory, user


# -- stateless unless a session is given ------------------------------------------------------
def sessions(em: Emulator) -> list[str]:
    return [r.json["session_id"] for r in em.requests]


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


def test_engines_sharing_one_llm_never_mix(make_llm: LLMFactory) -> None:
    from llama_index.core.chat_engine import SimpleChatEngine

    llm = make_llm("memory")  # as one Settings.llm shared by several engines
    first, second = SimpleChatEngine.from_defaults(llm=llm), SimpleChatEngine.from_defaults(llm=llm)
    assert str(first.chat("apple")) == "This is the start of our conversation."
    assert str(second.chat("banana")) == "This is the start of our conversation."


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
    # auto with a session that does not hold q1/a1 (read once): the prompt wins, the whole
    # transcript goes to a fresh session.
    make_llm(session_id="s").chat(history)
    body = lyzr_emulator.requests[-1].json
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["session_id"] != "s"
    # explicit modes
    make_llm(message_mode="turn").chat(history)
    assert lyzr_emulator.requests[-1].json["message"] == mark_context(["sys"]) + "\n\nq2"
    make_llm(message_mode="history", session_id="s").chat(history)
    body = lyzr_emulator.requests[-1].json
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["session_id"] == "s"


def test_transcript_ending_with_the_assistant_is_answered(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    # Nothing new from the user: the agent answers the whole transcript, on a fresh session.
    llm = make_llm(session_id="s")
    llm.chat([ChatMessage(role=MessageRole.USER, content="a"), ChatMessage(role="assistant")])
    body = lyzr_emulator.requests[-1].json
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"]
    assert body["session_id"] != "s"


# -- the system context on every turn ---------------------------------------------------------
DOCS = [
    Document(text="The Zorblax reactor runs on blue sand."),
    Document(text="Quintor bridges are painted every spring."),
]


PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer using: {context}"),
        ("user", "{question}"),
    ]
)


def sent_text(body: dict[str, object]) -> str:
    """Everything a request carried as conversation text (message or messages)."""
    if "message" in body:
        return str(body["message"])
    return "\n".join(str(m["content"]) for m in body["messages"])  # type: ignore[attr-defined, index]


def test_system_context_reaches_every_turn_of_a_session(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("memory", session_id="ctx")
    history: list[ChatMessage] = []
    for context, question in (("fact one", "first?"), ("fact two", "second?")):
        messages = PROMPT.format_messages(context=context, question=question)
        answer = llm.chat([messages[0], *history, messages[1]])
        history += [messages[1], answer.message]
    first, second = agent_bodies(lyzr_emulator)
    assert first["message"] == mark_context(["Answer using: fact one"]) + "\n\nfirst?"
    # not only "second?": the context of this turn goes with it, marked as such
    assert second["message"] == mark_context(["Answer using: fact two"]) + "\n\nsecond?"
    # the agent's memory holds the user's words; the context block is not part of them
    assert answer.message.content == "Earlier you said: first?"


async def test_system_context_reaches_every_turn_async(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm(session_id="ctx-async")
    history: list[ChatMessage] = []
    for context, question in (("fact one", "first?"), ("fact two", "second?")):
        messages = PROMPT.format_messages(context=context, question=question)
        stream = await llm.astream_chat([messages[0], *history, messages[1]])
        last = [r async for r in stream][-1]
        history += [messages[1], last.message]
    last = agent_bodies(lyzr_emulator)[-1]["message"]
    assert last == mark_context(["Answer using: fact two"]) + "\n\nsecond?"


def _index() -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(DOCS, embed_model=MockEmbedding(embed_dim=8))


@pytest.mark.parametrize("chat_mode", ["context", "condense_plus_context"])
@pytest.mark.parametrize("session", [None, "engine-session"])
def test_chat_engines_send_the_retrieved_context_on_turn_two(
    make_llm: LLMFactory, lyzr_emulator: Emulator, chat_mode: str, session: str | None
) -> None:
    llm = make_llm(session_id=session)
    engine = _index().as_chat_engine(chat_mode=chat_mode, llm=llm, similarity_top_k=2)
    engine.chat("What runs on blue sand?")
    answer = engine.stream_chat("And the bridges?")
    assert "".join(answer.response_gen).startswith("You said: ")
    last = agent_bodies(lyzr_emulator)[-1]
    assert any(doc.text in sent_text(last) for doc in DOCS)  # the context, on turn 2 too
    assert "And the bridges?" in sent_text(last)
    if session is None:
        assert "message" not in last  # stateless: the engine's whole transcript
        roles = [m["role"] for m in last["messages"]]  # type: ignore[union-attr, index]
        assert roles[0] == "system" and roles[-1] == "user"
    else:
        assert last["session_id"] == session and "messages" not in last


async def test_chat_engine_async_turn_two(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    engine = _index().as_chat_engine(chat_mode="context", llm=make_llm(), similarity_top_k=2)
    await engine.achat("What runs on blue sand?")
    answer = await engine.astream_chat("And the bridges?")
    assert "".join([d async for d in answer.async_response_gen()]).startswith("You said: ")
    last = agent_bodies(lyzr_emulator)[-1]
    assert any(doc.text in sent_text(last) for doc in DOCS)


# -- where the session and its options come from: the priority and session scopes -------------
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
