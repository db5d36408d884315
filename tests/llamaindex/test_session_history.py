"""The agent's session memory read as LlamaIndex ChatMessages, fed to a chat engine, emptied."""

from __future__ import annotations

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.chat_engine import SimpleChatEngine

from llamaindex_lyzr_stream import aread_session_history, read_session_history
from lyzr_stream import LyzrClient
from lyzr_stream.emulator import Emulator
from tests.helpers.bodies import agent_bodies
from tests.llamaindex.conftest import LLMFactory


def test_session_history_as_chat_messages_and_chat_engine(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("memory", session_id="li-history-1")
    first = llm.chat([ChatMessage(role=MessageRole.USER, content="I like tea")])
    second = llm.chat([ChatMessage(role=MessageRole.USER, content="What do I like?")])
    history = read_session_history("li-history-1", client=llm.client)
    assert [(m.role, m.content) for m in history] == [
        (MessageRole.USER, "I like tea"),
        (MessageRole.ASSISTANT, first.message.content),
        (MessageRole.USER, "What do I like?"),
        (MessageRole.ASSISTANT, second.message.content),
    ]
    scoped = read_session_history(
        "li-history-1",
        agent_id="memory",
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
    )
    assert [m.content for m in scoped] == [m.content for m in history]

    engine = SimpleChatEngine.from_defaults(llm=llm, chat_history=history)
    reply = engine.chat("And what else?")
    assert str(reply) == "Earlier you said: I like tea | What do I like?"
    assert agent_bodies(lyzr_emulator)[-1]["message"] == "And what else?"  # only the new turn
    assert len(engine.chat_history) == 6

    llm.client.delete_session("li-history-1")
    assert read_session_history("li-history-1", client=llm.client) == []


async def test_async_read(make_llm: LLMFactory) -> None:
    llm = make_llm("echo", session_id="li-history-2")
    await llm.achat([ChatMessage(role=MessageRole.USER, content="one")])
    history = await aread_session_history("li-history-2", client=llm.client)
    assert [m.content for m in history] == ["one", "You said: one"]


def test_unknown_session_reads_as_empty(lyzr_emulator: Emulator) -> None:
    client = LyzrClient(
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
        default_headers={"x-emulator-fault": "status:404"},
    )
    assert read_session_history("never-used", client=client) == []
