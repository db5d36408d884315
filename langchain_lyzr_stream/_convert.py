"""Pure conversions between LangChain objects and the core's (no I/O, no state).

- LangChain messages -> core :class:`~lyzr_stream.ChatMessage` (a ``ToolMessage`` with
  ``status="error"`` goes as ``"Error: <message>"``, the form lyzr-adk's tool loop sends);
- one core event -> at most one ``ChatGenerationChunk`` (used by the sync and async loops alike);
- a whole :class:`~lyzr_stream.AgentResponse` -> ``ChatResult``.

Reasoning (``<think>``) goes to ``additional_kwargs["reasoning_content"]``, the convention
``AIMessage.content_blocks`` reads as a reasoning block, so ``content`` / ``.text`` hold only the
answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages import (
    ChatMessage as LCChatMessage,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from langchain_lyzr_stream._media import MEDIA_BLOCK_TYPES
from lyzr_stream import (
    AgentResponse,
    ChatMessage,
    InvalidRequestError,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallRequest,
)
from lyzr_stream._adapters.model_fields import message_text, response_fields
from lyzr_stream._events import StreamEvent
from lyzr_stream.dialects._local_tools import tool_error_content, wire_tool_calls

__all__ = [
    "event_to_chunk",
    "final_chunk",
    "response_metadata",
    "response_to_result",
    "text_chunk",
    "to_core_messages",
]

_ROLES: dict[type[BaseMessage], str] = {
    HumanMessage: "user",
    SystemMessage: "system",
    AIMessage: "assistant",
    AIMessageChunk: "assistant",
    ToolMessage: "tool",
}
_TEXT_BLOCK_TYPES = frozenset({"text", "text-plain"})
_SKIPPED_BLOCK_TYPES = frozenset({"reasoning", "thinking", "tool_call", "tool_use"})


def _text_of(message: BaseMessage) -> str:
    """The text of a message; a content block the protocol cannot carry is an error."""
    content = message.content
    if isinstance(content, str):
        return content
    return message_text(
        content,
        partial(_block_text, from_ai=isinstance(message, AIMessage)),
        holder=f"a {type(message).__name__}",
        block_name=_block_name,
        carried="images and files",
    )


def _block_text(block: str | dict[str, Any], *, from_ai: bool) -> str | None:
    """A content block's text; "" when it travels another way, None when it cannot travel."""
    if isinstance(block, str):
        return block
    kind = block.get("type")
    if kind in _TEXT_BLOCK_TYPES and isinstance(block.get("text"), str):
        return str(block["text"])
    if from_ai and kind in _SKIPPED_BLOCK_TYPES:
        return ""  # the agent's own reasoning; its tool calls travel in the tool_calls field
    if kind in MEDIA_BLOCK_TYPES:
        return ""  # images and files travel as uploaded assets (see _media.py)
    return None


def _block_name(block: str | dict[str, Any]) -> str:
    kind = block.get("type") if isinstance(block, dict) else "text"
    return f"{kind!r} content block"


def _role_of(message: BaseMessage) -> str:
    for cls in type(message).__mro__:
        role = _ROLES.get(cls)
        if role is not None:
            return role
    if isinstance(message, LCChatMessage) and message.role in (
        "user",
        "system",
        "assistant",
        "tool",
    ):
        return message.role
    raise InvalidRequestError(f"cannot send a {type(message).__name__} to an agent")


#: Where an AIMessage keeps the service's own tool_calls entries (proxy form), to resend them.
RAW_TOOL_CALLS = "lyzr_tool_calls"


def _wire_tool_calls(message: AIMessage) -> tuple[dict[str, Any], ...] | None:
    calls = [
        ToolCall(call.get("id") or f"call_{index}", call["name"], call["args"])
        for index, call in enumerate(message.tool_calls)
    ]
    return wire_tool_calls(calls, message.additional_kwargs.get(RAW_TOOL_CALLS))


def to_core_messages(messages: Sequence[BaseMessage]) -> list[ChatMessage]:
    """LangChain messages as the core's OpenAI-style messages."""
    out: list[ChatMessage] = []
    for message in messages:
        role = _role_of(message)
        fields: dict[str, Any] = {"role": role, "content": _text_of(message)}
        if isinstance(message, AIMessage):
            fields["tool_calls"] = _wire_tool_calls(message)
        elif isinstance(message, ToolMessage):
            if message.status == "error":
                fields["content"] = tool_error_content(fields["content"])
            fields["tool_call_id"] = message.tool_call_id
            if message.name:
                fields["name"] = message.name
        out.append(ChatMessage(**fields))
    return out


def _tool_call_chunks(calls: Sequence[ToolCall]) -> list[Any]:
    return [
        tool_call_chunk(
            name=call.name, args=json.dumps(dict(call.arguments)), id=call.id, index=index
        )
        for index, call in enumerate(calls)
    ]


def text_chunk(text: str) -> ChatGenerationChunk:
    return ChatGenerationChunk(message=AIMessageChunk(content=text))


def event_to_chunk(event: StreamEvent) -> ChatGenerationChunk | None:
    """The chunk for one core event, or None when the event produces no chunk."""
    # isinstance narrows the union for the type checker; on the per-token path it costs what
    # the former ``type(event) is`` tests did (an exact class is isinstance's fast case).
    if isinstance(event, TextDelta):
        return text_chunk(event.text)
    if isinstance(event, ReasoningDelta):
        return ChatGenerationChunk(
            message=AIMessageChunk(content="", additional_kwargs={"reasoning_content": event.text})
        )
    if isinstance(event, ToolCallRequest):
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                tool_call_chunks=_tool_call_chunks(event.calls),
                additional_kwargs={RAW_TOOL_CALLS: [dict(c) for c in event.raw_calls]},
            )
        )
    return None


def response_metadata(
    response: AgentResponse, timing: Mapping[str, float | None]
) -> dict[str, Any]:
    """``response_metadata`` of the final message: ids, finish reason, artifacts, timing."""
    return {
        "model_provider": "lyzr",
        "model_name": response.agent_id,
        **response_fields(response, timing),
    }


def final_chunk(response: AgentResponse, timing: Mapping[str, float | None]) -> ChatGenerationChunk:
    """The closing chunk: no text, the metadata, and ``chunk_position="last"``."""
    return ChatGenerationChunk(
        message=AIMessageChunk(
            content="",
            response_metadata=response_metadata(response, timing),
            chunk_position="last",
        )
    )


def response_to_result(response: AgentResponse, timing: Mapping[str, float | None]) -> ChatResult:
    """A whole answer (one-shot or a completed stream) as a ``ChatResult``."""
    additional: dict[str, Any] = {}
    if response.reasoning:
        additional["reasoning_content"] = response.reasoning
    if response.raw_tool_calls:
        additional[RAW_TOOL_CALLS] = [dict(c) for c in response.raw_tool_calls]
    message = AIMessage(
        content=response.text,
        additional_kwargs=additional,
        response_metadata=response_metadata(response, timing),
        tool_calls=[
            {"name": c.name, "args": dict(c.arguments), "id": c.id, "type": "tool_call"}
            for c in response.tool_calls
        ],
    )
    return ChatResult(generations=[ChatGeneration(message=message)])
