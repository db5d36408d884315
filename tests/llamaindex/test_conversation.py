"""Conversation semantics as LlamaIndex users write them (issue 14): stateless unless a session
is given, system context in every turn, chat engines over two turns, constructor typos."""

from __future__ import annotations

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.prompts import ChatPromptTemplate

from lyzr_stream import InvalidRequestError
from lyzr_stream.emulator import Emulator

from .conftest import LLMFactory

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


def agent_bodies(em: Emulator) -> list[dict[str, object]]:
    return [r.json for r in em.requests if r.path.startswith("/v3/inference/")]


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
    assert first["message"] == "Answer using: fact one\n\nfirst?"
    assert second["message"] == "Answer using: fact two\n\nsecond?"  # not only "second?"
    assert answer.message.content == "Earlier you said: Answer using: fact one\n\nfirst?"


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
    assert agent_bodies(lyzr_emulator)[-1]["message"] == "Answer using: fact two\n\nsecond?"


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


def test_engines_sharing_one_llm_never_mix(make_llm: LLMFactory) -> None:
    from llama_index.core.chat_engine import SimpleChatEngine

    llm = make_llm("memory")  # as one Settings.llm shared by several engines
    first, second = SimpleChatEngine.from_defaults(llm=llm), SimpleChatEngine.from_defaults(llm=llm)
    assert str(first.chat("apple")) == "This is the start of our conversation."
    assert str(second.chat("banana")) == "This is the start of our conversation."


@pytest.mark.parametrize("typo", ["sesion_id", "agentid", "system_prompt_vars"])
def test_constructor_typos_are_named(make_llm: LLMFactory, typo: str) -> None:
    with pytest.raises(InvalidRequestError, match=typo):
        make_llm(**{typo: "x"})


def test_framework_constructor_arguments_still_work(
    make_llm: LLMFactory, lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llama_index.core.callbacks import CallbackManager

    llm = make_llm(callback_manager=CallbackManager([]), system_prompt="Be brief.")
    assert llm.system_prompt == "Be brief."
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    assert type(llm).from_dict(llm.to_dict()).agent_id == llm.agent_id  # carries class_name


def test_user_role_check(make_llm: LLMFactory) -> None:
    # A transcript ending with an assistant message has nothing new for a session to send.
    llm = make_llm(session_id="s")
    with pytest.raises(InvalidRequestError, match="nothing new to send"):
        llm.chat([ChatMessage(role=MessageRole.USER, content="a"), ChatMessage(role="assistant")])


async def test_one_shot_results_carry_timing(make_llm: LLMFactory) -> None:
    llm = make_llm()
    for extras in (
        llm.chat([ChatMessage(role=MessageRole.USER, content="hi")]).additional_kwargs,
        llm.complete("hi").additional_kwargs,
        (await llm.achat([ChatMessage(role=MessageRole.USER, content="hi")])).additional_kwargs,
        (await llm.acomplete("hi")).additional_kwargs,
    ):
        assert extras["total_time"] >= extras["time_to_first_token"] > 0


