"""The session rule in LangChain: stateless unless a session is given; where it comes from."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import ConfigurableField

from lyzr_stream._adapters.conversation import mark_context
from lyzr_stream.emulator import Emulator
from tests.langchain.conftest import ModelFactory, answer_requests

# -- stateless unless a session is given ------------------------------------------------------
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


def sessions(em: Emulator) -> list[str]:
    return [r.json["session_id"] for r in em.requests]


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


# -- the system context on every turn, the transcript or the new turn ----------------------------
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
            assert body["message"] == mark_context([f"Answer using: {context}"]) + f"\n\n{question}"
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
    assert sent == [
        mark_context(["Answer using: doc one"]) + "\n\nfirst?",
        mark_context(["Answer using: doc two"]) + "\n\nsecond?",
    ]


async def test_prompt_with_system_context_stateless_async(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    chain = _context_prompt() | make_model()
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


def test_turn_mode_sends_only_the_new_turn(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    make_model(session_id="s", message_mode="turn").invoke(
        [
            SystemMessage("old rules"),
            HumanMessage("first"),
            AIMessage("first answer"),
            HumanMessage("second"),
            SystemMessage("be brief"),
        ]
    )
    body = lyzr_emulator.requests[-1].json
    # "turn": only the new turn goes out; every system message is part of it.
    assert body["message"] == mark_context(["old rules", "be brief"]) + "\n\nsecond"
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


# -- where the session and its options come from -----------------------------------------------
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


def test_configurable_fields(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    model = make_model().configurable_fields(
        session_id=ConfigurableField(id="lyzr_session"),
        agent_id=ConfigurableField(id="agent"),
    )
    reply = model.invoke("hi", config={"configurable": {"lyzr_session": "cf", "agent": "memory"}})
    assert reply.content == "This is the start of our conversation."
    assert sessions(lyzr_emulator) == ["cf"]
    assert make_model().with_config(configurable={"session_id": "wc"}).invoke("x").content


def _sessions(em: Emulator) -> list[str]:
    return [r.json["session_id"] for r in answer_requests(em)]


def test_config_inside_langgraph_style_context_is_read(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    from langchain_core.runnables import RunnableLambda

    model = make_model()
    # A step that calls the model without passing its config, as LangGraph nodes do.
    step = RunnableLambda(lambda text: model.invoke(text))
    step.invoke("x", config={"configurable": {"session_id": "from-context"}})

    async def node(text: str) -> AIMessage:
        return await model.ainvoke(text)

    asyncio.run(
        RunnableLambda(node).ainvoke(
            "y", config={"configurable": {"session_id": "from-context-async"}}
        )
    )
    assert _sessions(lyzr_emulator) == [
        "from-context",
        "from-context-async",
    ]
