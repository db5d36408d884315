"""Pure conversions between LlamaIndex objects and the core's (no I/O).

Streaming: one :class:`Accumulator` per response folds core events into LlamaIndex responses
(``delta`` plus the text so far, as LlamaIndex expects). The same object serves the sync and the
async loop. Reasoning goes to a ``ThinkingBlock`` of the message and to
``additional_kwargs["thinking_delta"]`` of each streamed response, never into the answer text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    MessageRole,
    TextBlock,
    ThinkingBlock,
)

from lyzr_stream import (
    AgentResponse,
    InvalidRequestError,
    ReasoningDelta,
    TextDelta,
    ToolActivity,
)
from lyzr_stream import (
    ChatMessage as CoreMessage,
)
from lyzr_stream.events import StreamEvent

__all__ = [
    "Accumulator",
    "activity_dict",
    "response_extras",
    "to_chat_response",
    "to_core_messages",
]

_ROLES = {
    MessageRole.USER: "user",
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
}


def _text_of(message: ChatMessage) -> str:
    parts: list[str] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            parts.append(block.text)
        elif isinstance(block, ThinkingBlock) or block.block_type == "tool_call":
            continue  # the agent's own reasoning / calls are not resent as text
        else:
            raise InvalidRequestError(
                f"a {message.role.value} message holds a {block.block_type!r} block, which the "
                "Lyzr protocol cannot carry (only text; upload files as Lyzr assets and pass "
                "their ids with assets=[...])"
            )
    return "".join(parts)


def to_core_messages(messages: Sequence[ChatMessage]) -> list[CoreMessage]:
    """LlamaIndex chat messages as the core's OpenAI-style messages."""
    out: list[CoreMessage] = []
    for message in messages:
        role = _ROLES.get(message.role)
        if role is None:
            raise InvalidRequestError(f"cannot send a {message.role.value!r} message to an agent")
        fields: dict[str, Any] = {"role": role, "content": _text_of(message)}
        if role == "tool":
            call_id = message.additional_kwargs.get("tool_call_id")
            if isinstance(call_id, str):
                fields["tool_call_id"] = call_id
        out.append(CoreMessage(**fields))
    return out


def activity_dict(activity: ToolActivity) -> dict[str, Any]:
    return {
        "phase": activity.phase,
        "name": activity.name,
        "arguments": activity.arguments,
        "result": activity.result,
    }


def response_extras(response: AgentResponse, timing: Mapping[str, float | None]) -> dict[str, Any]:
    """``additional_kwargs`` of a final response: ids, artifacts, timing, service metadata."""
    extras: dict[str, Any] = {
        "agent_id": response.agent_id,
        "session_id": response.session_id,
        "user_id": response.user_id,
        "message_id": response.message_id,
        "finish_reason": response.finish_reason,
    }
    if response.artifacts:
        extras["artifacts"] = [dict(a) for a in response.artifacts]
    if response.metadata:
        extras["service_metadata"] = dict(response.metadata)
    if response.tool_activity:
        extras["tool_activity"] = [activity_dict(a) for a in response.tool_activity]
    extras.update({k: v for k, v in timing.items() if v is not None})
    return extras


def _message(text: str, thinking: str) -> ChatMessage:
    blocks: list[Any] = []
    if thinking:
        blocks.append(ThinkingBlock(content=thinking))
    blocks.append(TextBlock(text=text))
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks)


def to_chat_response(response: AgentResponse, timing: Mapping[str, float | None]) -> ChatResponse:
    """A whole answer as a ``ChatResponse``; ``raw`` is the service JSON when there was one."""
    extras = response_extras(response, timing)
    message = _message(response.text, response.reasoning)
    message.additional_kwargs.update(extras)
    return ChatResponse(message=message, raw=response.raw, additional_kwargs=extras)


class Accumulator:
    """Folds one stream's events into LlamaIndex responses, keeping the text so far."""

    __slots__ = ("_text", "_thinking")

    def __init__(self) -> None:
        self._text: list[str] = []
        self._thinking: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self._text)

    def chat(self, event: StreamEvent) -> ChatResponse | None:
        """The streamed response for one event, or None when it produces none."""
        kind = type(event)
        if kind is TextDelta:
            self._text.append(event.text)  # type: ignore[union-attr]
            return ChatResponse(
                message=_message(self.text, "".join(self._thinking)),
                delta=event.text,  # type: ignore[union-attr]
            )
        if kind is ReasoningDelta:
            self._thinking.append(event.text)  # type: ignore[union-attr]
            return ChatResponse(
                message=_message(self.text, "".join(self._thinking)),
                delta="",
                additional_kwargs={"thinking_delta": event.text},  # type: ignore[union-attr]
            )
        if kind is ToolActivity:
            return ChatResponse(
                message=_message(self.text, "".join(self._thinking)),
                delta="",
                additional_kwargs={"tool_activity": activity_dict(event)},  # type: ignore[arg-type]
            )
        return None

    def final_chat(
        self, response: AgentResponse, timing: Mapping[str, float | None]
    ) -> ChatResponse:
        """The closing response: no new text, the complete message and its metadata."""
        extras = response_extras(response, timing)
        message = _message(response.text, response.reasoning)
        message.additional_kwargs.update(extras)
        return ChatResponse(message=message, delta="", additional_kwargs=extras)


def chat_to_completion(response: ChatResponse) -> CompletionResponse:
    """The completion form of a chat response (same text, delta and extras)."""
    return CompletionResponse(
        text=response.message.content or "",
        delta=response.delta,
        raw=response.raw,
        additional_kwargs=response.additional_kwargs,
    )
