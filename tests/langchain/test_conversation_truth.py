"""One truth for a conversation (#26): what the prompt says reaches the agent once, wherever the
history lives. User code over real sockets; each test asserts what the agent received."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    messages_to_dict,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from langgraph.checkpoint.memory import MemorySaver
from langgraph.graph import START, MessagesState, StateGraph

from langchain_lyzr_stream import ChatLyzr, LyzrChatMessageHistory
from lyzr_stream._adapters.conversation import CONTEXT_OPEN
from lyzr_stream.dialects._chat_messages import SESSION_NAMESPACE
from lyzr_stream.emulator import Emulator
from tests.helpers.dialects import setup
from tests.langchain.conftest import ModelFactory, Person, answer_requests


def history_reads(em: Emulator, session_id: str) -> int:
    return sum(1 for r in em.requests if r.method == "GET" and f"/{session_id}/" in r.path)


def memory_of(em: Emulator, session_id: str) -> list[tuple[str, str]]:
    return list(em.state.history(session_id))


PROMPT = ChatPromptTemplate.from_messages(
    [("system", "You are terse."), MessagesPlaceholder("history"), ("human", "{question}")]
)


# -- RunnableWithMessageHistory -------------------------------------------------------------------
def test_seeded_in_memory_store_reaches_the_agent(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    store = InMemoryChatMessageHistory(
        messages=[HumanMessage("My name is Ada"), AIMessage("Hello Ada")]
    )
    chain = RunnableWithMessageHistory(
        PROMPT | make_model("memory"),
        lambda session_id: store,
        input_messages_key="question",
        history_messages_key="history",
    )
    config: Any = {"configurable": {"session_id": "seeded-store"}}
    answer = chain.invoke({"question": "What is my name?"}, config=config)
    (body,) = [r.json for r in answer_requests(lyzr_emulator)]
    # The session's memory does not hold the store's turns: the whole transcript goes out.
    assert [m["content"] for m in body["messages"] if m["role"] != "system"] == [
        "My name is Ada",
        "Hello Ada",
        "What is my name?",
    ]
    assert "My name is Ada" in answer.content
    assert history_reads(lyzr_emulator, "seeded-store") == 1  # learned once
    chain.invoke({"question": "And now?"}, config=config)
    body = answer_requests(lyzr_emulator)[-1].json
    assert [m["content"] for m in body["messages"]][1:3] == ["My name is Ada", "Hello Ada"]
    assert history_reads(lyzr_emulator, "seeded-store") == 1  # never again in this process


def test_lyzr_chat_message_history_has_no_duplicates(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("memory")
    chain = RunnableWithMessageHistory(
        PROMPT | model,
        lambda session_id: LyzrChatMessageHistory(session_id, client=model.client),
        input_messages_key="question",
        history_messages_key="history",
    )
    config: Any = {"configurable": {"session_id": "lyzr-store"}}
    questions = ["My name is Fay.", "I live in Oslo.", "What do you know?"]
    answers = [chain.invoke({"question": q}, config=config).content for q in questions]
    bodies = [r.json for r in answer_requests(lyzr_emulator)]
    # Only the new question each time, with the system text in its marked block.
    assert all("messages" not in b and b["session_id"] == "lyzr-store" for b in bodies)
    assert [b["message"].split("\n\n")[-1] for b in bodies] == questions
    # Each turn once in the agent's memory.
    users = [text for role, text in memory_of(lyzr_emulator, "lyzr-store") if role == "user"]
    assert [u.split("\n\n")[-1] for u in users] == questions
    assert answers[-1] == "Earlier you said: My name is Fay. | I live in Oslo."
    # The model never read the history itself: the three reads are the chain's own.
    assert history_reads(lyzr_emulator, "lyzr-store") == 3
    # The reader returns the user's words, not the prompt's scaffolding.
    read = LyzrChatMessageHistory("lyzr-store", client=model.client).messages
    assert [m.content for m in read if isinstance(m, HumanMessage)] == questions
    assert not any(CONTEXT_OPEN in str(m.content) for m in read)

    # A new process (a new model, an empty record) whose history shares the model's client:
    # the chain's own read teaches the record, so the model reads nothing more.
    fresh = make_model("memory")
    chain = RunnableWithMessageHistory(
        PROMPT | fresh,
        lambda session_id: LyzrChatMessageHistory(session_id, client=fresh.client),
        input_messages_key="question",
        history_messages_key="history",
    )
    before = history_reads(lyzr_emulator, "lyzr-store")
    chain.invoke({"question": "Still there?"}, config=config)
    assert history_reads(lyzr_emulator, "lyzr-store") == before + 1  # the chain's read only
    body = answer_requests(lyzr_emulator)[-1].json
    assert "messages" not in body and body["message"].endswith("\n\nStill there?")
    users = [text for role, text in memory_of(lyzr_emulator, "lyzr-store") if role == "user"]
    assert [u.split("\n\n")[-1] for u in users] == [*questions, "Still there?"]


# -- LangGraph ---------------------------------------------------------------------------------
def graph_of(model: ChatLyzr, saver: MemorySaver) -> Any:
    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    return builder.compile(checkpointer=saver)


def test_langgraph_state_seeded_trimmed_and_restored(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    saver = MemorySaver()
    graph = graph_of(make_model("memory"), saver)
    thread: Any = {"configurable": {"thread_id": "graph-1"}}
    # Seeded: the state holds turns the agent's memory does not: all of them reach it.
    seeded = [HumanMessage("My name is Ada"), AIMessage("Hi Ada"), HumanMessage("My name?")]
    out = graph.invoke({"messages": seeded}, thread)
    assert "My name is Ada" in out["messages"][-1].content
    assert "My name is Ada" in str(answer_requests(lyzr_emulator)[-1].json["messages"])

    # A thread the agent remembers: only the new turn, the memory holds the rest.
    fresh: Any = {"configurable": {"thread_id": "graph-2"}}
    graph.invoke({"messages": [HumanMessage("I am Bo")]}, fresh)
    out = graph.invoke({"messages": [HumanMessage("Who am I?")]}, fresh)
    body = answer_requests(lyzr_emulator)[-1].json
    assert body["session_id"] == "graph-2" and body["message"] == "Who am I?"
    assert out["messages"][-1].content == "Earlier you said: I am Bo"

    # Trimmed: the first exchange removed from the state; the agent must not see it.
    state = graph.get_state(fresh).values["messages"]
    graph.update_state(fresh, {"messages": [RemoveMessage(id=m.id) for m in state[:2]]})
    out = graph.invoke({"messages": [HumanMessage("Again: who am I?")]}, fresh)
    body = answer_requests(lyzr_emulator)[-1].json
    # the trimmed state is the truth: the removed turn is not sent, nor read from memory
    sent = [(m["role"], m["content"]) for m in body["messages"]]
    assert sent == [
        ("user", "Who am I?"),
        ("assistant", state[3].content),
        ("user", "Again: who am I?"),
    ]
    assert out["messages"][-1].content == "Earlier you said: Who am I?"

    # Restored in a new process (a new model: an empty session record) with a state that
    # matches the agent's memory: one history read, then only the new turn.
    memory_thread: Any = {"configurable": {"thread_id": "graph-3"}}
    graph.invoke({"messages": [HumanMessage("I like tea")]}, memory_thread)
    restored = graph_of(make_model("memory"), saver)
    out = restored.invoke({"messages": [HumanMessage("What do I like?")]}, memory_thread)
    body = answer_requests(lyzr_emulator)[-1].json
    assert body["message"] == "What do I like?" and body["session_id"] == "graph-3"
    assert history_reads(lyzr_emulator, "graph-3") == 1
    assert out["messages"][-1].content == "Earlier you said: I like tea"
    users = [text for role, text in memory_of(lyzr_emulator, "graph-3") if role == "user"]
    assert users == ["I like tea", "What do I like?"]  # each turn once

    # Restored with a state that disagrees (edited while away): the prompt wins.
    restored_again = graph_of(make_model("memory"), saver)
    current = restored_again.get_state(memory_thread).values["messages"]
    restored_again.update_state(
        memory_thread, {"messages": [HumanMessage("I like coffee", id=current[0].id)]}
    )
    restored_again.invoke({"messages": [HumanMessage("And now?")]}, memory_thread)
    body = answer_requests(lyzr_emulator)[-1].json
    users = [m["content"] for m in body["messages"] if m["role"] == "user"]
    assert users == ["I like coffee", "What do I like?", "And now?"]


def test_graph_state_ending_with_ai_and_system_is_answered(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("echo")
    state = [HumanMessage("Draft a slogan"), AIMessage("Tea, now."), SystemMessage("Review it.")]
    reply = model.invoke(state, {"configurable": {"thread_id": "review-1"}})
    assert reply.content
    body = answer_requests(lyzr_emulator)[-1].json
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "Draft a slogan"),
        ("assistant", "Tea, now."),
        ("system", "Review it."),
    ]
    assert body["session_id"] != "review-1"  # answered from the transcript, memory untouched
    assert memory_of(lyzr_emulator, "review-1") == []


@pytest.mark.parametrize("name", ["chat-messages", "aisquare"])
def test_any_thread_id_is_a_session_on_every_dialect(lyzr_emulator: Emulator, name: str) -> None:
    lyzr_emulator.reset()
    dialect, kwargs = setup(name, "memory")
    kwargs.pop("session_id", None)
    model = ChatLyzr(
        dialect=dialect, api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, **kwargs
    )
    thread: Any = {"configurable": {"thread_id": "t-1"}}
    model.invoke("first", thread)
    reply = model.invoke("second", thread)
    assert reply.content == "Earlier you said: first"
    paths = {r.path for r in lyzr_emulator.requests if r.method == "POST"}
    assert len(paths) == 1  # the same server session for the thread, every call
    if name == "chat-messages":
        assert str(uuid.uuid5(SESSION_NAMESPACE, "t-1")) in paths.pop()


# -- framework-internal calls stay out of the memory ------------------------------------------
def test_structured_output_in_a_thread_runs_stateless(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("memory")
    thread: Any = {"configurable": {"thread_id": "structured-1"}}
    model.invoke("My name is Ada", thread)
    model.with_structured_output(Person, method="json_schema").invoke("Ada, 36", thread)
    body = answer_requests(lyzr_emulator)[-1].json
    assert body["session_id"] != "structured-1"
    users = [t for r, t in memory_of(lyzr_emulator, "structured-1") if r == "user"]
    assert users == ["My name is Ada"]
    # asked explicitly per call, it goes to the session
    model.with_structured_output(Person, method="json_schema").invoke(
        "Ada, 36", thread, session_id="structured-1"
    )
    assert answer_requests(lyzr_emulator)[-1].json["session_id"] == "structured-1"


_RESTORE = """
import json, sys
from langchain_core.messages import HumanMessage, messages_from_dict
from langchain_lyzr_stream import ChatLyzr

base_url, api_key, thread, saved = sys.argv[1:5]
state = messages_from_dict(json.loads(saved))
model = ChatLyzr(agent_id="memory", base_url=base_url, api_key=api_key)
config = {"configurable": {"thread_id": thread}}
reply = model.invoke([*state, HumanMessage("What do I like?")], config)
print(json.dumps(reply.content))
"""


def test_state_restored_in_a_new_process(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    model = make_model("memory")
    thread: Any = {"configurable": {"thread_id": "restored-1"}}
    state: list[Any] = [HumanMessage("I like tea")]
    state.append(model.invoke(state, thread))
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _RESTORE,
            lyzr_emulator.base_url,
            lyzr_emulator.api_key,
            "restored-1",
            json.dumps(messages_to_dict(state)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == "Earlier you said: I like tea"
    body = answer_requests(lyzr_emulator)[-1].json
    assert body["session_id"] == "restored-1" and body["message"] == "What do I like?"
    assert history_reads(lyzr_emulator, "restored-1") == 1  # the new process read it once
    users = [text for role, text in memory_of(lyzr_emulator, "restored-1") if role == "user"]
    assert users == ["I like tea", "What do I like?"]


# -- an answer edited in the caller's state -------------------------------------------------------
@pytest.mark.parametrize("how", ["invoke", "stream", "ainvoke", "astream"])
async def test_an_answer_edited_in_the_state_disagrees_and_the_prompt_wins(
    make_model: ModelFactory, lyzr_emulator: Emulator, how: str
) -> None:
    model = make_model("memory")
    thread: Any = {"configurable": {"thread_id": f"edited-{how}"}}

    async def call(messages: list[Any]) -> str:
        if how == "invoke":
            return str(model.invoke(messages, thread).content)
        if how == "ainvoke":
            return str((await model.ainvoke(messages, thread)).content)
        if how == "stream":
            return "".join(str(c.content) for c in model.stream(messages, thread))
        return "".join([str(c.content) async for c in model.astream(messages, thread)])

    first = [HumanMessage("I like tea")]
    answer = await call(first)
    # Unchanged, the answer the caller got matches the record: only the new turn is sent.
    await call([*first, AIMessage(answer), HumanMessage("Noted?")])
    body = answer_requests(lyzr_emulator)[-1].json
    assert body["session_id"] == f"edited-{how}" and body["message"] == "Noted?"
    # A human-in-the-loop edit of the agent's last answer: memory and prompt disagree.
    state = [*first, AIMessage(answer), HumanMessage("Noted?"), AIMessage("You like coffee.")]
    await call([*state, HumanMessage("What do I like?")])
    body = answer_requests(lyzr_emulator)[-1].json
    assert body["session_id"] != f"edited-{how}"  # a fresh session with the whole transcript
    sent = [(m["role"], m["content"]) for m in body["messages"]]
    assert ("assistant", "You like coffee.") in sent
    assert sent[-1] == ("user", "What do I like?")
