"""Pure conversions between LlamaIndex objects and the core's (no I/O).

Streaming: one :class:`Accumulator` per response folds core events into LlamaIndex responses
(``delta`` plus the text so far, as LlamaIndex expects). The same object serves the sync and the
async loop. Reasoning goes to a ``ThinkingBlock`` of the message and to
``additional_kwargs["thinking_delta"]`` of each streamed response, never into the answer text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.types import Model
from pydantic import ValidationError

from llamaindex_lyzr_stream._media import MEDIA_BLOCKS
from lyzr_stream import (
    AgentResponse,
    InvalidRequestError,
    ReasoningDelta,
    TextDelta,
    ToolActivity,
    ToolCall,
    ToolCallRequest,
)
from lyzr_stream import (
    ChatMessage as CoreMessage,
)
from lyzr_stream._adapters.model_fields import message_text, response_fields
from lyzr_stream._adapters.structured import NoJsonError, json_in_text
from lyzr_stream._events import StreamEvent
from lyzr_stream.dialects._local_tools import tool_error_content, wire_tool_calls

__all__ = [
    "RAW_TOOL_CALLS",
    "Accumulator",
    "activity_dict",
    "keep_first_tool_call",
    "one_shot_timing",
    "parse_structured",
    "response_extras",
    "to_chat_response",
    "to_core_messages",
    "tool_selections",
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
    return message_text(
        message.blocks,
        _block_text,
        holder=f"a {message.role.value} message",
        block_name=lambda block: f"{block.block_type!r} block",
        carried="images and documents",
    )


def _block_text(block: Any) -> str | None:
    """A block's text; "" when it travels another way, None when it cannot travel."""
    if isinstance(block, TextBlock):
        return block.text
    if isinstance(block, ThinkingBlock) or block.block_type == "tool_call":
        return ""  # the agent's own reasoning / calls are not resent as text
    if isinstance(block, MEDIA_BLOCKS):
        return ""  # images and documents travel as uploaded assets (see _media.py)
    return None


#: Where an assistant message keeps the service's own tool_calls entries, to resend them.
RAW_TOOL_CALLS = "lyzr_tool_calls"


def _calls_of(message: ChatMessage) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for index, block in enumerate(message.blocks):
        if isinstance(block, ToolCallBlock):
            args = block.tool_kwargs
            if isinstance(args, str):
                try:
                    args = json.loads(args) if args.strip() else {}
                except ValueError:
                    raise InvalidRequestError(
                        f"the arguments of tool call {block.tool_name!r} are not valid JSON"
                    ) from None
            calls.append(ToolCall(block.tool_call_id or f"call_{index}", block.tool_name, args))
    return calls


def to_core_messages(messages: Sequence[ChatMessage]) -> list[CoreMessage]:
    """LlamaIndex chat messages as the core's OpenAI-style messages.

    Assistant tool calls are ``ToolCallBlock``s; tool results are ``role=tool`` messages whose
    ``additional_kwargs["tool_call_id"]`` names the call (as LlamaIndex's agents write them). A
    result marked ``additional_kwargs["is_error"]`` goes back as ``"Error: <message>"``, as
    lyzr-adk sends a failed tool (LlamaIndex's FunctionAgent does not mark its tool errors in
    the message, so those go back as the error text it wrote).
    """
    out: list[CoreMessage] = []
    names: dict[str, str] = {}
    for message in messages:
        role = _ROLES.get(message.role)
        if role is None:
            raise InvalidRequestError(f"cannot send a {message.role.value!r} message to an agent")
        fields: dict[str, Any] = {"role": role, "content": _text_of(message)}
        if role == "assistant":
            calls = _calls_of(message)
            names.update((call.id, call.name) for call in calls)
            fields["tool_calls"] = wire_tool_calls(
                calls, message.additional_kwargs.get(RAW_TOOL_CALLS)
            )
        elif role == "tool":
            if message.additional_kwargs.get("is_error"):
                fields["content"] = tool_error_content(fields["content"])
            call_id = message.additional_kwargs.get("tool_call_id")
            if isinstance(call_id, str):
                fields["tool_call_id"] = call_id
                name = message.additional_kwargs.get("name") or names.get(call_id)
                if name:
                    fields["name"] = name
        out.append(CoreMessage(**fields))
    return out


def tool_selections(message: ChatMessage) -> list[ToolSelection]:
    """The tool calls of an assistant message, as LlamaIndex's agents consume them."""
    return [
        ToolSelection(tool_id=call.id, tool_name=call.name, tool_kwargs=dict(call.arguments))
        for call in _calls_of(message)
    ]


def keep_first_tool_call(response: ChatResponse) -> ChatResponse:
    """The response with only its first tool call (``allow_parallel_tool_calls=False``)."""
    message = response.message
    blocks = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
    if len(blocks) <= 1:
        return response
    message.blocks = [b for b in message.blocks if b not in blocks[1:]]
    for key in (RAW_TOOL_CALLS, "tool_calls"):
        entries = message.additional_kwargs.get(key)
        if isinstance(entries, list):
            message.additional_kwargs[key] = entries[:1]
    return response


def activity_dict(activity: ToolActivity) -> dict[str, Any]:
    return {
        "phase": activity.phase,
        "name": activity.name,
        "arguments": activity.arguments,
        "result": activity.result,
    }


def parse_structured(text: str, output_cls: type[Model]) -> Model:
    """The answer's JSON (alone, fenced, or with prose around it: the rule ChatLyzr shares,
    :func:`~lyzr_stream._adapters.structured.json_in_text`) as ``output_cls``.

    Raises ``ValueError`` carrying the agent's answer when it holds no JSON or the JSON does
    not fit the schema.
    """
    try:
        value = json_in_text(text)
    except NoJsonError as exc:
        raise ValueError(f"structured output for {output_cls.__name__}: {exc}") from None
    try:
        return output_cls.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or output_cls.__name__}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ValueError(
            f"the agent's answer does not fit {output_cls.__name__} ({problems}); the agent "
            f"answered: {text[:2000]!r}"
        ) from None


def one_shot_timing(started: float) -> dict[str, float | None]:
    """Timing of a one-shot call started at ``started`` (``time.monotonic()``): the whole answer
    arrives at once, so its first token comes at the end."""
    total = time.monotonic() - started
    return {"time_to_first_token": total, "total_time": total}


def response_extras(response: AgentResponse, timing: Mapping[str, float | None]) -> dict[str, Any]:
    """``additional_kwargs`` of a final response: ids, artifacts, timing, service metadata."""
    extras = response_fields(response, timing)
    if response.tool_activity:
        extras["tool_activity"] = [activity_dict(a) for a in response.tool_activity]
    return extras


def _message(
    text: str,
    thinking: str,
    calls: Sequence[ToolCall] = (),
    raw_calls: Sequence[Mapping[str, Any]] = (),
) -> ChatMessage:
    blocks: list[Any] = []
    if thinking:
        blocks.append(ThinkingBlock(content=thinking))
    blocks.append(TextBlock(text=text))
    blocks.extend(
        ToolCallBlock(tool_call_id=c.id, tool_name=c.name, tool_kwargs=dict(c.arguments))
        for c in calls
    )
    message = ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks)
    if calls:
        # Where LlamaIndex's streaming structured-output program looks for tool calls
        # (process_streaming_objects), as the OpenAI integration fills it: OpenAI-style entries
        # with the real tool names. The ToolCallBlocks stay the source of truth.
        message.additional_kwargs["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(dict(c.arguments))},
            }
            for c in calls
        ]
    if raw_calls:
        message.additional_kwargs[RAW_TOOL_CALLS] = [dict(c) for c in raw_calls]
    return message


def to_chat_response(response: AgentResponse, timing: Mapping[str, float | None]) -> ChatResponse:
    """A whole answer as a ``ChatResponse``; ``raw`` is the service JSON when there was one."""
    extras = response_extras(response, timing)
    message = _message(
        response.text, response.reasoning, response.tool_calls, response.raw_tool_calls
    )
    message.additional_kwargs.update(extras)
    return ChatResponse(message=message, raw=response.raw, additional_kwargs=extras)


#: Text so far (characters) beyond which streamed responses are rationed (see Accumulator).
LARGE_ANSWER_CHARS = 64 * 1024
#: Beyond it, a response is made once the new text is 1/_GROWTH of the text so far...
_GROWTH = 64
#: ...or this many seconds after the previous response, whichever comes first.
_MIN_INTERVAL = 0.05
_clock = time.monotonic


class Accumulator:
    """Folds one stream's events into LlamaIndex responses, keeping the text so far.

    Every LlamaIndex response holds the whole text so far as its own string, so each one costs
    a copy of it, and one response per delta makes a long answer quadratic (a 25 MB answer
    took a minute). Up to :data:`LARGE_ANSWER_CHARS` (64 Ki characters, a very long answer)
    every delta is a response at once. Beyond that a delta is held until the new text is at
    least 1/64 of the text so far or 50 ms have passed since the previous response, so that
    the copies grow geometrically (linear time overall) while a streaming display still
    updates at least 20 times a second. Held text is never lost: it leaves with the next
    response of any kind, at the latest with the final one (in its ``delta``).
    """

    __slots__ = ("_held", "_held_chars", "_last", "_text", "_thinking")

    def __init__(self) -> None:
        self._text = ""
        self._thinking = ""
        self._held: list[str] = []
        self._held_chars = 0
        self._last = float("-inf")  # the first delta beyond the threshold leaves at once

    def _grow(self, delta: str) -> str | None:
        """Add ``delta`` to the text so far; the delta to report now, or None (held)."""
        if len(self._text) >= LARGE_ANSWER_CHARS:
            self._held.append(delta)
            self._held_chars += len(delta)
            now = _clock()
            if self._held_chars * _GROWTH < len(self._text) and now - self._last < _MIN_INTERVAL:
                return None
            self._last = now
            delta = self._release()
        self._text += delta
        return delta

    def _release(self) -> str:
        held = self._held[0] if len(self._held) == 1 else "".join(self._held)
        self._held.clear()
        self._held_chars = 0
        return held

    def _flush(self) -> str:
        """Held text, added to the text so far, to leave with the response being made."""
        if not self._held:
            return ""
        held = self._release()
        self._text += held
        return held

    def chat(self, event: StreamEvent) -> ChatResponse | None:
        """The streamed chat response for one event, or None when it produces none."""
        # isinstance narrows the union for the type checker; on the per-token path it costs
        # what ``type(event) is`` did (an exact class is isinstance's fast case).
        if isinstance(event, TextDelta):
            delta = self._grow(event.text)
            if delta is None:
                return None
            return ChatResponse(message=_message(self._text, self._thinking), delta=delta)
        if isinstance(event, ReasoningDelta):
            self._thinking += event.text
            held = self._flush()
            return ChatResponse(
                message=_message(self._text, self._thinking),
                delta=held,
                additional_kwargs={"thinking_delta": event.text},
            )
        if isinstance(event, ToolCallRequest):
            held = self._flush()
            return ChatResponse(
                message=_message(self._text, self._thinking, event.calls, event.raw_calls),
                delta=held,
            )
        if isinstance(event, ToolActivity):
            held = self._flush()
            return ChatResponse(
                message=_message(self._text, self._thinking),
                delta=held,
                additional_kwargs={"tool_activity": activity_dict(event)},
            )
        return None

    def completion(self, event: StreamEvent) -> CompletionResponse | None:
        """The streamed completion response for one event, or None when it produces none."""
        if isinstance(event, TextDelta):
            delta = self._grow(event.text)
            if delta is None:
                return None
            return CompletionResponse(text=self._text, delta=delta)
        if isinstance(event, ReasoningDelta):
            self._thinking += event.text
            held = self._flush()
            return CompletionResponse(
                text=self._text,
                delta=held,
                additional_kwargs={"thinking_delta": event.text},
            )
        if isinstance(event, ToolActivity):
            held = self._flush()
            return CompletionResponse(
                text=self._text,
                delta=held,
                additional_kwargs={"tool_activity": activity_dict(event)},
            )
        return None

    def final_chat(
        self, response: AgentResponse, timing: Mapping[str, float | None]
    ) -> ChatResponse:
        """The closing response: the complete message and its metadata (its delta is any text
        still held, else empty)."""
        extras = response_extras(response, timing)
        message = _message(
            response.text, response.reasoning, response.tool_calls, response.raw_tool_calls
        )
        message.additional_kwargs.update(extras)
        return ChatResponse(message=message, delta=self._flush(), additional_kwargs=extras)

    def final_completion(
        self, response: AgentResponse, timing: Mapping[str, float | None]
    ) -> CompletionResponse:
        """The closing completion: the whole answer and its metadata (delta: any held text)."""
        extras = response_extras(response, timing)
        if response.reasoning:
            extras["thinking"] = response.reasoning
        return CompletionResponse(text=response.text, delta=self._flush(), additional_kwargs=extras)


def chat_to_completion(response: ChatResponse) -> CompletionResponse:
    """The completion form of a chat response (same text, delta and extras)."""
    return CompletionResponse(
        text=response.message.content or "",
        delta=response.delta,
        raw=response.raw,
        additional_kwargs=response.additional_kwargs,
    )
