"""The session rule as LangChain code meets it: stateless unless a session is given.

With no session id anywhere a call is a function of its messages (a fresh server session, the
whole transcript sent), so ``batch`` items and chain invocations never see each other; with a
session id the agent's memory holds the conversation and only the new turn is sent, its system
context included every turn.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

from lyzr_stream.emulator import Emulator

from .conftest import ModelFactory, answer_requests

FRESH = "This is the start of our conversation."


@pytest.mark.parametrize("path", ["batch", "abatch", "stream", "astream"])
async def test_items_without_a_session_never_see_each_other(
    make_model: ModelFactory, lyzr_emulator: Emulator, path: str
) -> None:
    model = make_model("memory")
    items = ["apple", "banana", "cherry"]
    if path == "batch":
        texts = [m.text for m in model.batch(items)]
    elif path == "abatch":
        texts = [m.text for m in await model.abatch(items)]
    elif path == "stream":
        texts = ["".join(c.text for c in model.stream(item)) for item in items]
    else:
        texts = ["".join([c.text async for c in model.astream(item)]) for item in items]
    assert texts == [FRESH] * 3
    bodies = [r.json for r in answer_requests(lyzr_emulator)]
    assert len({b["session_id"] for b in bodies}) == 3
    # Stateless: the transcript goes out as messages, never as the turn-only message field.
    assert all("message" not in b and b["messages"][-1]["role"] == "user" for b in bodies)


async def test_a_session_opts_into_the_agents_memory(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("memory")
    config: Any = {"configurable": {"session_id": "remember-me"}}
    assert model.invoke("apple", config=config).text == FRESH
    assert (await model.ainvoke("banana", config=config)).text == "Earlier you said: apple"
    assert "".join(c.text for c in model.stream("cherry", session_id="remember-me")) == (
        "Earlier you said: apple | banana"
    )
    # With a session only the new turn is sent: the server holds the rest.
    bodies = [r.json for r in answer_requests(lyzr_emulator)]
    assert [b["message"] for b in bodies] == ["apple", "banana", "cherry"]
    assert all("messages" not in b for b in bodies)


def _context_prompt() -> ChatPromptTemplate:
    return ChatPromptTemplate.from_messages(
        [
            ("system", "Answer using: {context}"),
            MessagesPlaceholder("history"),
            ("human", "{question}"),
        ]
    )


@pytest.mark.parametrize("session", [None, "ctx-session"])
def test_system_context_is_sent_on_every_turn(
    make_model: ModelFactory, lyzr_emulator: Emulator, session: str | None
) -> None:
    chain = _context_prompt() | make_model(**({"session_id": session} if session else {}))
    history: list[Any] = []
    for context, question in (("doc one", "first?"), ("doc two", "second?")):
        reply = chain.invoke({"context": context, "question": question, "history": history})
        history += [HumanMessage(question), AIMessage(reply.text)]
    first, second = (r.json for r in answer_requests(lyzr_emulator))
    for body, context, question in ((first, "doc one", "first?"), (second, "doc two", "second?")):
        if session is None:  # stateless: the whole transcript, system message first
            assert body["messages"][0] == {"role": "system", "content": f"Answer using: {context}"}
            assert body["messages"][-1] == {"role": "user", "content": question}
        else:  # memory: the new turn, with this turn's context
            assert body["session_id"] == session
            assert body["message"] == f"Answer using: {context}\n\n{question}"
    if session is None:
        assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]


async def test_system_context_every_turn_async_and_streamed(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    chain = _context_prompt() | make_model(session_id="ctx-async")
    history: list[Any] = []
    for context, question in (("doc one", "first?"), ("doc two", "second?")):
        text = "".join(
            [
                c.text
                async for c in chain.astream(
                    {"context": context, "question": question, "history": history}
                )
            ]
        )
        history += [HumanMessage(question), AIMessage(text)]
    sent = [r.json["message"] for r in answer_requests(lyzr_emulator)]
    assert sent == ["Answer using: doc one\n\nfirst?", "Answer using: doc two\n\nsecond?"]
