"""LyzrChatMessageHistory: the agent's session memory read as LangChain messages."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory

from langchain_lyzr_stream import ChatLyzr, LyzrChatMessageHistory
from lyzr_stream import InvalidRequestError, NotFoundError
from lyzr_stream.emulator import Emulator
from tests.helpers.bodies import agent_bodies
from tests.langchain.conftest import ModelFactory


def history_for(em: Emulator, session_id: str, **kw: Any) -> LyzrChatMessageHistory:
    return LyzrChatMessageHistory(session_id, api_key=em.api_key, base_url=em.base_url, **kw)


@pytest.mark.filterwarnings("ignore::langchain_core._api.deprecation.LangChainDeprecationWarning")
def test_runnable_with_message_history_reads_the_agents_memory(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    prompt = ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history"), ("human", "{question}")]
    )
    chain = RunnableWithMessageHistory(
        prompt | make_model("memory"),
        lambda session_id: history_for(lyzr_emulator, session_id, agent_id="memory"),
        input_messages_key="question",
        history_messages_key="history",
    )
    config: Any = {"configurable": {"session_id": "lc-history-1"}}
    first = chain.invoke({"question": "I like tea"}, config=config)
    second = chain.invoke({"question": "What do I like?"}, config=config)
    assert second.text == "Earlier you said: I like tea"
    history = history_for(lyzr_emulator, "lc-history-1")
    said = [(type(m).__name__, m.content) for m in history.messages]
    assert said == [
        ("HumanMessage", "I like tea"),
        ("AIMessage", first.text),
        ("HumanMessage", "What do I like?"),
        ("AIMessage", second.text),
    ]
    # Turn mode: the second request carried only the new question, not the history again.
    assert agent_bodies(lyzr_emulator)[1]["message"] == "What do I like?"
    client = history.client
    assert "lc-history-1" in [s.session_id for s in client.list_sessions("memory")]
    history.clear()
    assert history.messages == []
    assert "lc-history-1" not in [s.session_id for s in client.list_sessions("memory")]


async def test_async_history_and_adding_is_a_no_op(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("echo", session_id="lc-history-2")
    await model.ainvoke("one")
    history = history_for(lyzr_emulator, "lc-history-2", agent_id="echo")
    history.add_messages([HumanMessage("never stored")])
    await history.aadd_messages([HumanMessage("never stored")])
    messages = await history.aget_messages()
    assert [m.content for m in messages] == ["one", "You said: one"]
    await history.aclear()
    assert await history.aget_messages() == []


def test_an_unknown_session_reads_as_empty(lyzr_emulator: Emulator) -> None:
    history = LyzrChatMessageHistory(
        "never-used",
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
        default_headers={"x-emulator-fault": "status:404"},
    )
    assert history.messages == []
    history.clear()  # nothing to delete: no error
    with pytest.raises(NotFoundError):
        history.client.session_history("never-used")


def test_history_arguments_checked(lyzr_emulator: Emulator, no_lyzr_env: None) -> None:
    with pytest.raises(InvalidRequestError, match="session_id"):
        history_for(lyzr_emulator, " ")
    with pytest.raises(InvalidRequestError, match="API key"):
        LyzrChatMessageHistory("s", base_url=lyzr_emulator.base_url)
    history = history_for(lyzr_emulator, "s")
    assert lyzr_emulator.api_key not in repr(history)
    em = lyzr_emulator
    model = ChatLyzr(agent_id="echo", api_key=em.api_key, base_url=em.base_url)
    shared = LyzrChatMessageHistory("s", client=model.client)
    assert shared.messages == []
