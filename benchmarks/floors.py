"""The framework floors: the cheapest a LangChain or LlamaIndex streaming model can be (no I/O)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from llama_index.core.base.llms.types import (
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM

from lyzr_stream.emulator import long_answer_tokens


class FloorChatModel(BaseChatModel):
    """Yields ``n`` chunks from memory, reporting each token as a real model would."""

    n: int = 20_000

    @property
    def _llm_type(self) -> str:
        return "floor"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        raise NotImplementedError

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for token in long_answer_tokens(self.n):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
            if run_manager is not None:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk


class FloorLLM(CustomLLM):
    """A ``CustomLLM`` yielding ``n`` deltas (with the text so far) from memory."""

    n: int = 20_000

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="floor")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="".join(long_answer_tokens(self.n)))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            text = ""
            for token in long_answer_tokens(self.n):
                text += token
                yield CompletionResponse(text=text, delta=token)

        return gen()
