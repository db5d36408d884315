"""Conversation semantics as LangChain users write them (issue 14): stateless unless a session is
given, system context in every turn, constructor typos."""

from __future__ import annotations

import pytest
from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

from lyzr_stream import InvalidRequestError
from lyzr_stream.emulator import Emulator

from .conftest import ModelFactory

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer using: {context}"),
        MessagesPlaceholder("history"),
        ("human", "{question}"),
    ]
)


def test_prompt_with_system_context_over_two_turns(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    chain = PROMPT | make_model("memory", session_id="ctx")
    history: list[BaseMessage] = []
    for context, question in (("fact one", "first?"), ("fact two", "second?")):
        answer = chain.invoke({"context": context, "history": history, "question": question})
        history += [("human", question), answer]  # type: ignore[list-item]
    first, second = (r.json for r in lyzr_emulator.requests)
    assert first["message"] == "Answer using: fact one\n\nfirst?"
    assert second["message"] == "Answer using: fact two\n\nsecond?"  # the fresh context, again


async def test_prompt_with_system_context_stateless_async(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    chain = PROMPT | make_model()
    first = await chain.ainvoke({"context": "fact one", "history": [], "question": "first?"})
    history = [("human", "first?"), first]
    await chain.ainvoke({"context": "fact two", "history": history, "question": "second?"})
    body = lyzr_emulator.requests[-1].json
    assert "message" not in body
    assert body["messages"] == [
        {"role": "system", "content": "Answer using: fact two"},
        {"role": "user", "content": "first?"},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "second?"},
    ]
    assert len({r.json["session_id"] for r in lyzr_emulator.requests}) == 2


async def test_abatch_items_never_see_each_other(make_model: ModelFactory) -> None:
    replies = await make_model("memory").abatch(["apple", "banana", "cherry"])
    assert [r.text for r in replies] == ["This is the start of our conversation."] * 3


@pytest.mark.parametrize("typo", ["sesion_id", "agentid", "message_mod"])
def test_constructor_typos_are_named(make_model: ModelFactory, typo: str) -> None:
    with pytest.raises(InvalidRequestError, match=typo):
        make_model(**{typo: "x"})


def test_framework_constructor_arguments_still_work(make_model: ModelFactory) -> None:
    model = make_model(callbacks=[], tags=["t"], metadata={"k": "v"}, verbose=False)
    assert model.tags == ["t"]
