"""Token counting with LyzrLLM (issue 14 item 5): an approximate tokenizer matching LangChain's
rule (about four characters per token), no dependency, no download."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from llama_index.core.base.llms.types import MessageRole
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.memory import ChatMemoryBuffer

from lyzr_stream._adapters.tokens import approximate_token_count
from lyzr_stream.emulator import Emulator

from .conftest import LLMFactory

ROOT = Path(__file__).resolve().parents[2]


def test_tokenizer_counts_four_characters_per_token(make_llm: LLMFactory) -> None:
    tokenizer = make_llm().tokenizer
    assert [len(tokenizer(t)) for t in ("", "a", "abcd", "abcde", "x" * 400)] == [0, 1, 1, 2, 100]
    assert len(tokenizer("hello world!")) == approximate_token_count("hello world!")


def test_memory_buffer_trims_by_the_approximate_count(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm()
    memory = ChatMemoryBuffer.from_defaults(llm=llm, tokenizer_fn=llm.tokenizer, token_limit=30)
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory)
    for question in ("a" * 40, "b" * 40, "c" * 40):
        engine.chat(question)
    kept = memory.get()
    # Each turn is about 10 + 13 tokens: only the last turn fits the 30-token budget.
    assert [m.role for m in kept] == [MessageRole.USER, MessageRole.ASSISTANT]
    assert kept[0].content == "c" * 40
    sent = lyzr_emulator.requests[-1].json["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"][-1] == "c" * 40


def test_token_counting_paths_work_without_tiktoken() -> None:
    code = """
import sys
class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tiktoken":
            raise ModuleNotFoundError("No module named 'tiktoken'", name=name)
sys.meta_path.insert(0, NotInstalled())
from llama_index.core import Settings
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.indices.prompt_helper import PromptHelper
from llama_index.core.memory import ChatMemoryBuffer
from llamaindex_lyzr_stream import LyzrLLM

llm = LyzrLLM(agent_id="a", api_key="k", base_url="https://example.invalid")
Settings.tokenizer = llm.tokenizer
memory = ChatMemoryBuffer.from_defaults(llm=llm, token_limit=8)
memory.put(ChatMessage(role="user", content="x" * 64))
memory.put(ChatMessage(role="user", content="y" * 16))
assert [m.content for m in memory.get()] == ["y" * 16], memory.get()
helper = PromptHelper.from_llm_metadata(llm.metadata)
assert helper.get_text_splitter_given_prompt  # builds on Settings.tokenizer
print("ok")
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr


