"""One truth for a conversation (#26), LlamaIndex side: framework-internal calls stay out of the
agent's memory, and the memory holds the user's words. User code over real sockets."""

from __future__ import annotations

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.embeddings import MockEmbedding
from pydantic import BaseModel

from llamaindex_lyzr_stream import read_session_history
from lyzr_stream._adapters.conversation import CONTEXT_OPEN
from lyzr_stream.emulator import Emulator
from tests.helpers.bodies import agent_bodies
from tests.llamaindex.conftest import LLMFactory

DOCS = [
    Document(text="The Zorblax reactor runs on blue sand."),
    Document(text="Quintor bridges are painted every spring."),
]


def _engine(llm: object) -> object:
    index = VectorStoreIndex.from_documents(DOCS, embed_model=MockEmbedding(embed_dim=8))
    return index.as_chat_engine(chat_mode="condense_plus_context", llm=llm, similarity_top_k=1)


def test_condense_plus_context_in_a_session_leaves_only_the_users_turns(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("memory")
    engine = _engine(llm)
    with llm.session(session_id="cpc-1"):
        engine.chat("What runs on blue sand?")  # type: ignore[attr-defined]
        reply = engine.chat("And the bridges?")  # type: ignore[attr-defined]
    bodies = agent_bodies(lyzr_emulator)
    # three agent calls: answer 1, the condense rewrite (stateless), answer 2
    assert len(bodies) == 3
    condense = bodies[1]
    assert condense["session_id"] != "cpc-1" and "What runs on blue sand?" in str(condense)
    assert bodies[2]["session_id"] == "cpc-1" and "messages" not in bodies[2]
    # the agent's memory: the user's two questions and its two answers, nothing else
    history = read_session_history("cpc-1", client=llm.client)
    users = [m.content for m in history if m.role == MessageRole.USER]
    assert users == ["What runs on blue sand?", "And the bridges?"]
    assert len(history) == 4
    assert not any(CONTEXT_OPEN in (m.content or "") for m in history)
    assert str(reply) == "Earlier you said: What runs on blue sand?"


async def test_condense_plus_context_async_in_a_session(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("memory")
    engine = _engine(llm)
    async with llm.session(session_id="cpc-async"):
        await engine.achat("What runs on blue sand?")  # type: ignore[attr-defined]
        await engine.achat("And the bridges?")  # type: ignore[attr-defined]
    history = read_session_history("cpc-async", client=llm.client)
    users = [m.content for m in history if m.role == MessageRole.USER]
    assert users == ["What runs on blue sand?", "And the bridges?"]


class Person(BaseModel):
    name: str
    age: int


def test_structured_predict_in_a_session_stays_out_of_memory(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("memory", structured_output="response_format")
    from llama_index.core.prompts import PromptTemplate

    with llm.session(session_id="sp-1"):
        llm.chat([ChatMessage(role=MessageRole.USER, content="I am Ada")])
        llm.structured_predict(Person, PromptTemplate("Extract: {text}"), text="Ada, 36")
    assert agent_bodies(lyzr_emulator)[-1]["session_id"] != "sp-1"
    users = [m.content for m in read_session_history("sp-1", client=llm.client) if m.role == "user"]
    assert users == ["I am Ada"]


async def test_an_answer_edited_in_the_chat_history_disagrees_and_the_prompt_wins(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("memory")
    user = ChatMessage(role=MessageRole.USER, content="I like tea")
    with llm.session(session_id="edited-li"):
        first = llm.chat([user]).message.content or ""
        kept = [user, ChatMessage(role=MessageRole.ASSISTANT, content=first)]
        again = ChatMessage(role=MessageRole.USER, content="Noted?")
        second = "".join(r.delta or "" for r in llm.stream_chat([*kept, again]))
        assert agent_bodies(lyzr_emulator)[-1]["message"] == "Noted?"  # the record matched
        edited = ChatMessage(role=MessageRole.ASSISTANT, content="You like coffee.")
        assert second != edited.content
        question = ChatMessage(role=MessageRole.USER, content="What do I like?")
        await llm.achat([*kept, again, edited, question])
    body = agent_bodies(lyzr_emulator)[-1]
    assert body["session_id"] != "edited-li"
    assert {"role": "assistant", "content": "You like coffee."} in body["messages"]


@pytest.mark.parametrize("streaming", [False, True])
def test_a_query_engine_in_a_session_stores_the_question_not_the_template(
    make_llm: LLMFactory, lyzr_emulator: Emulator, streaming: bool
) -> None:
    llm = make_llm("echo")
    index = VectorStoreIndex.from_documents(DOCS, embed_model=MockEmbedding(embed_dim=8))
    engine = index.as_query_engine(llm=llm, similarity_top_k=1, streaming=streaming)
    session = f"qe-{streaming}"
    with llm.session(session_id=session):
        answer = engine.query("What runs on blue sand?")
        text = "".join(answer.response_gen) if streaming else str(answer)  # type: ignore[union-attr]
    body = agent_bodies(lyzr_emulator)[-1]
    # The template and the retrieved context reach the agent, in the context block ...
    assert body["message"].startswith(CONTEXT_OPEN)
    assert "Context information is below" in body["message"]
    assert body["message"].endswith("\n\nWhat runs on blue sand?")
    assert body["message"].count("What runs on blue sand?") == 1
    assert text
    # ... and the session's memory reads back the user's question alone.
    history = read_session_history(session, client=llm.client)
    assert [m.content for m in history if m.role == MessageRole.USER] == [
        "What runs on blue sand?"
    ]
