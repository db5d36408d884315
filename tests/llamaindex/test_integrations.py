"""LyzrLLM inside LlamaIndex components: RAG query engine, chat engines, ReAct agent, workflow.

No network: MockEmbedding for the index, the emulator for the agent.
"""

from __future__ import annotations

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import AgentStream, ReActAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.chat_engine import CondensePlusContextChatEngine, SimpleChatEngine
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.tools import FunctionTool
from llama_index.core.workflow import Context, Event, StartEvent, StopEvent, Workflow, step

from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream.emulator import Emulator

from .conftest import LLMFactory

DOCS = [
    Document(text="Lyzr agents keep conversation memory per session on the server."),
    Document(text="lyzr-stream streams agent answers token by token into LangChain."),
    Document(text="The emulator serves scripted agents on a loopback port."),
]


def _index() -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(DOCS, embed_model=MockEmbedding(embed_dim=8))


def test_query_engine_streams_with_retrieved_context(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    engine = _index().as_query_engine(llm=make_llm(), streaming=True, similarity_top_k=2)
    response = engine.query("Where is conversation memory kept?")
    pieces = list(response.response_gen)
    assert len(pieces) > 1
    answer = "".join(pieces)
    assert answer.startswith("You said: ")
    # No session: a stateless call, the whole prompt as messages.
    body = lyzr_emulator.requests[-1].json
    sent = "\n".join(m["content"] for m in body["messages"])
    assert "Where is conversation memory kept?" in sent
    assert any(doc.text in sent for doc in DOCS)  # the retrieved context reached the agent
    assert answer == f"You said: {body['messages'][-1]['content']}"


async def test_query_engine_async_stream(make_llm: LLMFactory) -> None:
    engine = _index().as_query_engine(llm=make_llm(), streaming=True)
    response = await engine.aquery("What does the emulator serve?")
    pieces = [p async for p in response.async_response_gen()]
    assert "".join(pieces).startswith("You said: ")


def test_simple_chat_engine_multi_turn(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm("memory", session_id="chat-engine")
    engine = SimpleChatEngine.from_defaults(llm=llm)
    first = engine.stream_chat("first question")
    assert "".join(first.response_gen) == "This is the start of our conversation."
    second = engine.stream_chat("second question")
    assert "".join(second.response_gen) == "Earlier you said: first question"
    # Turn mode: only the new user message went out, though the engine keeps history too.
    assert [r.json["message"] for r in lyzr_emulator.requests] == [
        "first question",
        "second question",
    ]


def test_condense_plus_context_chat_engine(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm()
    engine = CondensePlusContextChatEngine.from_defaults(
        retriever=_index().as_retriever(similarity_top_k=1),
        llm=llm,
        memory=ChatMemoryBuffer.from_defaults(token_limit=4000),
    )
    first = "".join(engine.stream_chat("What is lyzr-stream?").response_gen)
    assert first.startswith("You said: ")
    second = engine.stream_chat("And the emulator?")
    text = "".join(second.response_gen)
    assert text.startswith("You said: ")
    assert "And the emulator?" in lyzr_emulator.requests[-1].json["messages"][-1]["content"]


def multiply(a: int, b: int) -> int:
    """Multiply two integers a and b."""
    return a * b


async def test_react_agent_uses_a_local_tool(make_llm: LLMFactory) -> None:
    calls: list[tuple[int, int]] = []

    def tracked_multiply(a: int, b: int) -> int:
        """Multiply two integers a and b."""
        calls.append((a, b))
        return a * b

    agent = ReActAgent(
        tools=[FunctionTool.from_defaults(tracked_multiply, name="multiply")],
        llm=make_llm("react", message_mode="history"),
        streaming=True,
    )
    handler = agent.run(user_msg="What is 6 times 7?")
    deltas = [ev.delta async for ev in handler.stream_events() if isinstance(ev, AgentStream)]
    result = await handler
    assert calls == [(6, 7)]
    assert "The result is 42" in str(result)
    assert "".join(deltas)


class Question(Event):
    text: str


class StreamingWorkflow(Workflow):
    def __init__(self, llm: LyzrLLM, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.llm = llm

    @step
    async def ask(self, ctx: Context, ev: StartEvent) -> StopEvent:
        answer = ""
        async for response in await self.llm.astream_complete(ev.get("question")):
            ctx.write_event_to_stream(Question(text=response.delta or ""))
            answer = response.text
        return StopEvent(result=answer)


async def test_workflow_step_streams(make_llm: LLMFactory) -> None:
    workflow = StreamingWorkflow(make_llm(coalesce=False), timeout=30)  # a delta per token
    handler = workflow.run(question="stream through a workflow")
    deltas = [ev.text async for ev in handler.stream_events() if isinstance(ev, Question)]
    result = await handler
    assert result == "You said: stream through a workflow" == "".join(deltas)
    assert len(deltas) > 2


def test_chat_message_roles_round_trip(make_llm: LLMFactory) -> None:
    reply = make_llm().chat([ChatMessage(role=MessageRole.USER, content="roles")])
    assert reply.message.role == MessageRole.ASSISTANT
