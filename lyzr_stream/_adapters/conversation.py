"""Framework-neutral rules shared by ChatLyzr and LyzrLLM: call options and what to send.

Both framework classes build every request with :func:`build_model_call`, whose
:class:`ModelCall` is one framework model call (the :class:`~lyzr_stream.AgentRequest`, the
per-call policy, the files to upload); this module is the one place where the rules below live.
(A ``ModelCall`` is the adapters' word; ``LyzrClient.prepare`` and the ``AgentCall`` it builds in
``lyzr_stream/_client.py`` are what the client then makes of its request.)

**Sessions are explicit state.** A chat model is a function of its input messages. With no
session id anywhere (constructor, ``configurable``, LangGraph's ``thread_id``,
``llm.session(...)``, per call), a call is stateless: the request carries no session id (the
client makes a fresh one per call) and the whole transcript goes out as ``messages``, so
independent calls never see each other. With a session id, the agent's server-side memory holds
the conversation and only the new turn is sent. ``message_mode`` overrides this: ``"auto"``
(default: the rule above), ``"turn"`` (always only the new turn) or ``"history"`` (always the
whole transcript).

**Call options** (``session_id``, ``user_id``, ``system_prompt_variables``,
``filter_variables``, ``features``, ``assets``) come from layers of rising priority; the
framework classes pass them in that order (for ChatLyzr: constructor fields, then
``config["configurable"]``, then per-call kwargs). A later layer's value replaces an earlier
one, except ``system_prompt_variables`` and ``filter_variables``, which are merged key by key.
``None`` never overrides. If no layer names a session id, ``fallback_session_id`` is used (for
example LangGraph's ``thread_id``).

**What to send** (:func:`request_fields`):

- the new turn (session memory): ``message`` = every system message of the call (wherever it
  stands in the transcript: the prompt's instructions, retrieved context), then the user text
  after the last assistant message, joined by blank lines (:func:`new_turn_text`);
- the whole transcript: ``messages`` (system messages as ``role=system`` entries), no
  ``message``: the two fields are alternatives, never both;
- a tool round (tools bound, or tool calls/results in the current turn), shaped like lyzr-adk's
  tool loop: ``messages`` only; with a session, the system messages and the current turn's loop
  (from the user message that started it), else the whole transcript; tool results named as
  :func:`~lyzr_stream.dialects._local_tools.tool_round_messages` says;
- a dialect that cannot carry ``messages`` (``lyzr-v2``, ``aisquare``, ``chat-messages``) gets
  the transcript as text in ``message`` when a stateless call has earlier turns
  (:func:`transcript_text`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import InvalidRequestError
from .._request import AgentRequest, ChatMessage, ToolSpec
from ..dialects._local_tools import normalize_tool_choice, tool_round_messages
from .attachments import CallAttachments, MediaPart, call_media

__all__ = [
    "CALL_OPTION_NAMES",
    "POLICY_NAMES",
    "CallOptions",
    "MessageMode",
    "ModelCall",
    "build_model_call",
    "check_call_kwargs",
    "new_turn_text",
    "request_fields",
    "resolve_call_options",
    "transcript_text",
]

MessageMode = Literal["auto", "turn", "history"]
#: Per-call keyword arguments that tune the call itself (passed to LyzrClient.stream/chat).
POLICY_NAMES = ("timeout", "max_retries")
CALL_OPTION_NAMES = (
    "session_id",
    "user_id",
    "system_prompt_variables",
    "filter_variables",
    "features",
    "assets",
)
_MERGED = frozenset({"system_prompt_variables", "filter_variables"})


@dataclass(frozen=True, slots=True)
class CallOptions:
    """The resolved per-call options (``None`` / empty where nothing was given)."""

    session_id: str | None = None
    user_id: str | None = None
    system_prompt_variables: Mapping[str, Any] = field(default_factory=dict)
    filter_variables: Mapping[str, Any] = field(default_factory=dict)
    features: tuple[Mapping[str, Any], ...] = ()
    assets: tuple[str, ...] = ()

    def request_fields(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~lyzr_stream._request.AgentRequest`."""
        return {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "system_prompt_variables": self.system_prompt_variables,
            "filter_variables": self.filter_variables,
            "features": self.features,
            "assets": self.assets,
        }


def _check_type(name: str, value: Any) -> None:
    if name in ("session_id", "user_id"):
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequestError(f"{name} must be a non-empty string, got {value!r}")
    elif name in _MERGED:
        if not isinstance(value, Mapping):
            raise InvalidRequestError(f"{name} must be a dict, got {type(value).__name__}")
    elif name == "features":
        if isinstance(value, (str, bytes, Mapping)) or not all(
            isinstance(v, Mapping) for v in value
        ):
            raise InvalidRequestError("features must be a list of dicts")
    elif name == "assets" and (
        isinstance(value, (str, bytes)) or not all(isinstance(v, str) for v in value)
    ):
        raise InvalidRequestError("assets must be a list of asset id strings")


def resolve_call_options(
    *layers: Mapping[str, Any] | None, fallback_session_id: str | None = None
) -> CallOptions:
    """Merge option layers given lowest priority first. Unknown keys in a layer are ignored."""
    values: dict[str, Any] = {}
    prompt_vars: dict[str, Any] = {}
    filter_vars: dict[str, Any] = {}
    for layer in layers:
        if not layer:
            continue
        for name in CALL_OPTION_NAMES:
            value = layer.get(name)
            if value is None or (not value and name in _MERGED):
                continue  # None never overrides; an empty dict merges nothing
            _check_type(name, value)
            if name == "system_prompt_variables":
                prompt_vars.update(value)
            elif name == "filter_variables":
                filter_vars.update(value)
            else:
                values[name] = value
    return CallOptions(
        values.get("session_id") or fallback_session_id,
        values.get("user_id"),
        prompt_vars,
        filter_vars,
        tuple(values.get("features", ())),
        tuple(values.get("assets", ())),
    )


def check_call_kwargs(
    kwargs: Mapping[str, Any], *, owner: str, accepted: Iterable[str], ignored: Iterable[str] = ()
) -> None:
    """Refuse per-call keyword arguments the model does not know (a typo is never dropped)."""
    known = set(accepted)
    unknown = set(kwargs) - known - set(ignored)
    if unknown:
        raise InvalidRequestError(
            f"unexpected argument(s) {sorted(unknown)}; {owner} accepts {sorted(known)} per call"
        )


def _last_index(messages: Sequence[ChatMessage], role: str) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == role:
            return index
    return -1


def new_turn_text(messages: Sequence[ChatMessage]) -> str:
    """The text of the new turn: every system message of the call, then the user (and tool)
    text after the last assistant message, joined by blank lines."""
    if not messages:
        raise InvalidRequestError("no messages to send")
    start = _last_index(messages, "assistant") + 1
    system = [m.content for m in messages if m.role == "system" and m.content.strip()]
    user = [m.content for m in messages[start:] if m.role in ("user", "tool") and m.content.strip()]
    if not user:
        raise InvalidRequestError(
            "nothing new to send: the conversation has no user message after the last assistant "
            "message (add a user message, or use message_mode='history')"
        )
    return "\n\n".join(system + user)


_LABELS = {"user": "User", "assistant": "Assistant", "tool": "Tool result"}


def transcript_text(messages: Sequence[ChatMessage]) -> str:
    """A stateless call's transcript as one text, for dialects that cannot carry ``messages``.

    Without earlier turns this is :func:`new_turn_text`; with them, the system text, then the
    earlier turns labelled ``User:`` / ``Assistant:``, then the new turn's text.
    """
    start = _last_index(messages, "assistant") + 1
    if start == 0:
        return new_turn_text(messages)
    turn = new_turn_text([m for m in messages[start:] if m.role != "system"])
    system = [m.content for m in messages if m.role == "system" and m.content.strip()]
    earlier = [
        f"{_LABELS[m.role]}: {m.content}"
        for m in messages[:start]
        if m.role != "system" and m.content.strip()
    ]
    return "\n\n".join([*system, "Conversation so far:\n" + "\n".join(earlier), turn])


def _current_loop(messages: Sequence[ChatMessage]) -> tuple[ChatMessage, ...]:
    """System messages, then the current turn's tool loop (from the user message that started
    it): what a tool round sends when the session's memory holds the earlier turns."""
    start = max(_last_index(messages, "user"), 0)
    return (*(m for m in messages[:start] if m.role == "system"), *messages[start:])


def _in_tool_round(messages: Sequence[ChatMessage]) -> bool:
    start = _last_index(messages, "user") + 1
    return any(m.role == "tool" or m.tool_calls for m in messages[start:])


def request_fields(
    messages: Sequence[ChatMessage],
    *,
    mode: MessageMode,
    has_session: bool,
    tools: bool = False,
    carries_messages: bool = True,
) -> dict[str, Any]:
    """``message`` or ``messages`` for one call (never both), by the rules in the module doc."""
    if not messages:
        raise InvalidRequestError("no messages to send")
    resolved = mode if mode != "auto" else ("turn" if has_session else "history")
    if not carries_messages and mode != "history":
        # The dialect has only ``message``: a stateless call's earlier turns go in as text.
        if resolved == "history":
            return {"message": transcript_text(messages)}
        return {"message": new_turn_text(messages)}
    if resolved == "history":
        return {"messages": tool_round_messages(messages)}
    if tools or _in_tool_round(messages):
        return {"messages": tool_round_messages(_current_loop(messages))}
    return {"message": new_turn_text(messages)}


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One framework model call (a ChatLyzr or LyzrLLM call), as the core client takes it: the
    request (files not yet uploaded), the per-call policy for the client (``timeout`` /
    ``max_retries`` keyword arguments of ``LyzrClient.stream``/``chat``) and the call's files
    (uploaded just before sending)."""

    request: AgentRequest
    policy: Mapping[str, Any]
    attachments: CallAttachments


def build_model_call(
    messages: Sequence[ChatMessage],
    *,
    agent_id: str,
    option_layers: Sequence[Mapping[str, Any] | None],
    message_mode: MessageMode = "auto",
    fallback_session_id: str | None = None,
    tools: Sequence[ToolSpec] = (),
    tool_choice: object = None,
    response_format: Mapping[str, Any] | None = None,
    policy: Mapping[str, Any] | None = None,
    carries_messages: bool = True,
    media: Sequence[Sequence[MediaPart]] | None = None,
) -> ModelCall:
    """The one request builder of both framework classes.

    ``messages``: the call's transcript, already converted; ``option_layers``: call-option
    layers, lowest priority first (see :func:`resolve_call_options`); ``carries_messages``:
    whether the dialect can send ``messages``; ``media``: the files of each message (see
    :func:`~lyzr_stream._adapters.attachments.call_media`). Applies the session rule, the
    message-shape rule and the tool-round rule of the module doc.
    """
    options = resolve_call_options(*option_layers, fallback_session_id=fallback_session_id)
    has_session = options.session_id is not None
    # Files of what the session already holds are not sent again; a stateless call sends all.
    whole = message_mode == "history" or (message_mode == "auto" and not has_session)
    # A tool round of a session sends the current loop (from the user message that began it).
    loop = not whole and carries_messages and (bool(tools) or _in_tool_round(messages))
    parts = (
        call_media(messages, media, whole_transcript=whole, current_loop=loop)
        if media is not None
        else []
    )
    fields = request_fields(
        messages,
        mode=message_mode,
        has_session=has_session,
        tools=bool(tools),
        carries_messages=carries_messages,
    )
    if tools:
        fields["tools"] = tuple(tools)
        fields["tool_choice"] = normalize_tool_choice(tool_choice, [t.name for t in tools])
    if response_format is not None:
        fields["response_format"] = response_format
    request = AgentRequest(agent_id=agent_id, **fields, **options.request_fields())
    chosen = {k: v for k, v in (policy or {}).items() if k in POLICY_NAMES}
    return ModelCall(request, chosen, CallAttachments(parts))
