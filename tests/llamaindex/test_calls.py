"""LyzrLLM's methods: complete and chat, their stream and async forms; its metadata."""

from __future__ import annotations

import itertools

from llama_index.core.base.llms.types import MessageRole

from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream.emulator import Emulator
from tests.llamaindex.conftest import LLMFactory, user


def test_complete_and_chat(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm()
    assert llm.complete("hello").text == "You said: hello"
    response = llm.chat([user("hi")])
    assert response.message.content == "You said: hi"
    assert response.message.role == MessageRole.ASSISTANT
    assert response.raw is not None and response.raw["response"] == "You said: hi"
    assert {r.path for r in lyzr_emulator.requests} == {"/v3/inference/chat/"}


def test_stream_complete_and_stream_chat(make_llm: LLMFactory) -> None:
    llm = make_llm()
    responses = list(llm.stream_complete("a b c"))
    assert "".join(r.delta or "" for r in responses) == "You said: a b c"
    assert responses[-1].text == "You said: a b c"
    texts = [r.text for r in responses]
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    chats = list(llm.stream_chat([user("d e")]))
    assert "".join(r.delta or "" for r in chats) == chats[-1].message.content == "You said: d e"


async def test_async_methods(make_llm: LLMFactory) -> None:
    llm = make_llm()
    assert (await llm.acomplete("a")).text == "You said: a"
    assert (await llm.achat([user("b")])).message.content == "You said: b"
    deltas = [r.delta async for r in await llm.astream_complete("c d")]
    assert "".join(d or "" for d in deltas) == "You said: c d"
    chats = [r async for r in await llm.astream_chat([user("e f")])]
    assert chats[-1].message.content == "You said: e f"
    assert "".join(r.delta or "" for r in chats) == "You said: e f"


def test_metadata(make_llm: LLMFactory) -> None:
    meta = make_llm(context_window=32_000).metadata
    assert meta.is_chat_model and meta.is_function_calling_model
    assert (meta.model_name, meta.context_window, meta.num_output) == ("echo", 32_000, 4_096)
    assert LyzrLLM.class_name() == "LyzrLLM"
