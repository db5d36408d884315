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
independent calls never see each other.

**With a session id, the prompt is the truth and the agent's memory a cache of it**
(:func:`_plan_session`). The session record (one per client, in
``session_memory.SessionRecord``) holds prints of the turns each session is known to hold:
the turns this process sent (the agent's answer to each as a wildcard until the caller has
received it, then the answer's print: an answer edited later in the transcript disagrees), or
the memory read once. The earlier turns of a call are its user and assistant messages
before the new turn (system text, tool calls and tool results are not compared).

- no earlier turns: the new turn goes to the session; the caller relies on its memory as it is;
- earlier turns the record holds exactly: only the new turn goes to the session;
- earlier turns and the record does not know the session: one history read (dialects with a
  history route; :attr:`ModelCall.learn`), then as above or below;
- memory and prompt disagree (seeded elsewhere, trimmed, edited, restored), or the dialect has
  no history route: the prompt wins, the whole transcript goes to a fresh server session (the
  wire has no way to rewrite a session's memory); the session's own memory is left as it is.
  Dialects that cannot make a session (aisquare) send the transcript as text to the session;
- a conversation that ends with the assistant, or with system messages after it (a review
  step): answered from the whole transcript on a fresh session, the memory untouched.

``message_mode`` overrides this: ``"turn"`` (always only the new turn) or ``"history"``
(always the whole transcript, to the session if one is given).

**Framework-internal calls** run stateless: a forced tool choice (``"any"``/a tool name: how
``with_structured_output`` and ``structured_predict`` ask), a ``response_format``, or a call a
framework class marks ``internal`` (``with_structured_output``'s ``ls_structured_output_format``,
LlamaIndex's chat-engine question condensing). Only a session id given per call (the last
option layer) keeps such a call in the session.

**System text** (instructions, retrieved context) goes with every new turn in one block,
``<lyzr-stream:context>...</lyzr-stream:context>``, in front of the user's words: ``message``
has no separate place for it. The history readers cut the block off, so memory reads back as
the user's words. **Session keys** take the dialect's form (``Dialect.session_id_for``): a
uuid5 of the key for chat-messages, an integer for aisquare.

**Call options** (``session_id``, ``user_id``, ``system_prompt_variables``,
``filter_variables``, ``features``, ``assets``) come from layers of rising priority; the
framework classes pass them in that order (for ChatLyzr: constructor fields, then
``config["configurable"]``, then per-call kwargs). A later layer's value replaces an earlier
one, except ``system_prompt_variables`` and ``filter_variables``, which are merged key by key.
``None`` never overrides. If no layer names a session id, ``fallback_session_id`` is used (for
example LangGraph's ``thread_id``).

**What to send** (:func:`request_fields`):

- the new turn (session memory): ``message`` = every system message of the call (wherever it
  stands in the transcript: the prompt's instructions, retrieved context) in the context
  block, then the user text after the last assistant message, joined by blank lines
  (:func:`new_turn_text`);
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

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import InvalidRequestError
from .._request import AgentRequest, ChatMessage, ToolSpec
from ..dialects._base import Dialect
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
    "extra_body",
)
_MERGED = frozenset({"system_prompt_variables", "filter_variables", "extra_body"})


@dataclass(frozen=True, slots=True)
class CallOptions:
    """The resolved per-call options (``None`` / empty where nothing was given)."""

    session_id: str | None = None
    user_id: str | None = None
    system_prompt_variables: Mapping[str, Any] = field(default_factory=dict)
    filter_variables: Mapping[str, Any] = field(default_factory=dict)
    features: tuple[Mapping[str, Any], ...] = ()
    assets: tuple[str, ...] = ()
    extra_body: Mapping[str, Any] = field(default_factory=dict)

    def request_fields(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~lyzr_stream._request.AgentRequest`."""
        return {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "system_prompt_variables": self.system_prompt_variables,
            "filter_variables": self.filter_variables,
            "features": self.features,
            "assets": self.assets,
            "extra_body": self.extra_body,
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
    extra_body: dict[str, Any] = {}
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
            elif name == "extra_body":
                extra_body.update(value)
            else:
                values[name] = value
    return CallOptions(
        values.get("session_id") or fallback_session_id,
        values.get("user_id"),
        prompt_vars,
        filter_vars,
        tuple(values.get("features", ())),
        tuple(values.get("assets", ())),
        extra_body,
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


#: The block that carries a call's system text (instructions, retrieved context) in front of
#: the user's words in ``message``: the wire has no separate field for it, so the history
#: readers cut it off (:func:`strip_context`) and memory shows the user's words.
CONTEXT_OPEN = "<lyzr-stream:context>"
CONTEXT_CLOSE = "</lyzr-stream:context>"


def mark_context(system: Sequence[str]) -> str:
    """The system texts of a call as one marked block (empty when there are none)."""
    if not system:
        return ""
    return CONTEXT_OPEN + "\n" + "\n\n".join(system) + "\n" + CONTEXT_CLOSE


def strip_context(text: str) -> str:
    """``text`` without the context block this package put in front of it."""
    if text.startswith(CONTEXT_OPEN):
        end = text.find(CONTEXT_CLOSE)
        if end >= 0:
            return text[end + len(CONTEXT_CLOSE) :].lstrip("\n")
    return text


def new_turn_text(messages: Sequence[ChatMessage]) -> str:
    """The text of the new turn: every system message of the call (one marked block, see
    :func:`mark_context`), then the user (and tool) text after the last assistant message,
    joined by blank lines."""
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
    context = mark_context(system)
    return "\n\n".join([context, *user] if context else user)


_LABELS = {"user": "User", "assistant": "Assistant", "tool": "Tool result"}


def transcript_text(messages: Sequence[ChatMessage]) -> str:
    """A stateless call's transcript as one text, for dialects that cannot carry ``messages``.

    Without earlier turns this is :func:`new_turn_text`; with them, the system text, then the
    earlier turns labelled ``User:`` / ``Assistant:``, then the new turn's text.
    """
    start = _last_index(messages, "assistant") + 1
    if start == 0:
        return new_turn_text(messages)
    system = [m.content for m in messages if m.role == "system" and m.content.strip()]
    if ends_without_user_turn(messages):
        # A graph shape ending with the assistant (or a system note): the whole conversation is
        # the context, and the agent is asked to go on from it.
        start = len(messages)
        turn = "Continue the conversation as the assistant."
    else:
        turn = new_turn_text([m for m in messages[start:] if m.role != "system"])
    earlier = [
        f"{_LABELS[m.role]}: {m.content}"
        for m in messages[:start]
        if m.role != "system" and m.content.strip()
    ]
    return "\n\n".join([*system, "Conversation so far:\n" + "\n".join(earlier), turn])


def ends_without_user_turn(messages: Sequence[ChatMessage]) -> bool:
    """No user (or tool) text after the last assistant message: the conversation ends with
    the assistant, or with system messages after it (a review step)."""
    start = _last_index(messages, "assistant") + 1
    if start == 0:
        return False
    return not any(m.role in ("user", "tool") and m.content.strip() for m in messages[start:])


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
    if ends_without_user_turn(messages):
        resolved = "history"  # nothing new from the user: the agent goes on from it all
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


#: One turn of a conversation as the session record keeps it: role and a digest of its text.
Print = tuple[str, bytes]
#: The agent's answer to a turn this process sent, not seen yet: matches any assistant turn.
ANSWER: Print = ("assistant", b"")
#: What a session held when this process first used it with a prompt carrying no earlier
#: turns: the caller relied on it, so it is taken as it is.
HELD: Print = ("held", b"")
_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "ai": "assistant"}


def _print(role: str, text: str) -> Print:
    words = " ".join(strip_context(text).split())
    return (role, hashlib.blake2b(words.encode("utf-8"), digest_size=16).digest())


def answer_print(text: str) -> Print:
    """The print of an answer the caller received (what its transcript will carry)."""
    return _print("assistant", text)


def turn_prints(messages: Sequence[ChatMessage]) -> tuple[Print, ...]:
    """The conversation turns of a transcript (user words, assistant answers; not system text,
    tool calls or tool results) as the session record compares them."""
    return tuple(
        _print(m.role, m.content)
        for m in messages
        if m.content.strip() and (m.role == "user" or (m.role == "assistant" and not m.tool_calls))
    )


def memory_prints(entries: Iterable[tuple[str, str]]) -> tuple[Print, ...]:
    """A session's memory, as (role, content) pairs read from the service, as prints (the
    context block this package added is cut off; roles other than user/assistant skipped)."""
    return tuple(
        _print(_ROLES[role], content)
        for role, content in entries
        if role in _ROLES and content.strip()
    )


def holds(record: Sequence[Print], earlier: Sequence[Print]) -> bool:
    """Whether a session whose record is ``record`` holds exactly the turns ``earlier``."""
    if record and record[0] == HELD:
        record = record[1:]
    if len(record) != len(earlier):
        return False
    pairs = zip(record, earlier, strict=True)
    return all(r == e or (r == ANSWER and e[0] == "assistant") for r, e in pairs)


#: What this process knows a session holds: its record, or None when it does not know.
MemoryLookup = Callable[[str], "tuple[Print, ...] | None"]


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One framework model call (a ChatLyzr or LyzrLLM call), as the core client takes it: the
    request (files not yet uploaded), the per-call policy for the client (``timeout`` /
    ``max_retries`` keyword arguments of ``LyzrClient.stream``/``chat``) and the call's files
    (uploaded just before sending).

    ``learn``: the session whose memory must be read before this call can be decided (then
    ``request`` is not to be sent: build the call again once the record knows the session;
    :func:`~lyzr_stream._adapters.session_memory.prepare_call` does). ``remember``: the
    session and the turns it holds once this call is sent (the record's new value)."""

    request: AgentRequest
    policy: Mapping[str, Any]
    attachments: CallAttachments
    learn: str | None = None
    remember: tuple[str, tuple[Print, ...]] | None = None


@dataclass(frozen=True, slots=True)
class _SessionPlan:
    session_id: str | None  # the server session the call goes to (None: a fresh one)
    mode: MessageMode
    learn: str | None = None
    remember: tuple[str, tuple[Print, ...]] | None = None
    whole: bool = False  # the whole transcript, to the session (no fresh one can be made)


def _plan_session(
    messages: Sequence[ChatMessage],
    session_id: str | None,
    mode: MessageMode,
    memory: MemoryLookup | None,
    *,
    readable: bool,
    fresh: bool,
) -> _SessionPlan:
    """The session rule: the prompt is the truth, the session's memory a cache of it."""
    if session_id is None or mode != "auto":
        return _SessionPlan(session_id, mode)
    # Without a fresh session to fall back on (aisquare), the whole transcript goes to the
    # session itself.
    truth = _SessionPlan(None, "auto") if fresh else _SessionPlan(session_id, "auto", whole=True)
    if ends_without_user_turn(messages):
        return truth  # nothing from the user to add to the memory: answered from the prompt
    record = memory(session_id) if memory is not None else None
    if _in_tool_round(messages):
        # A later round of a tool loop: the session holds the turn that began it.
        u = _last_index(messages, "user")
        upto = (*turn_prints(messages[: u + 1]), ANSWER) if u >= 0 else ()
        return _SessionPlan(session_id, "auto") if record and holds(record, upto) else truth
    start = _last_index(messages, "assistant") + 1
    earlier = turn_prints(messages[:start])
    sent = (*turn_prints(messages[start:]), ANSWER)
    if not earlier:
        # No earlier turns: the caller relies on the session's memory, whatever it holds.
        held = record if record is not None else (HELD,)
        return _SessionPlan(session_id, "auto", remember=(session_id, (*held, *sent)))
    if record is None:
        # First use in this process of a session the prompt has history for: read it once.
        return _SessionPlan(None, "auto", learn=session_id) if readable else truth
    if holds(record, earlier):
        return _SessionPlan(session_id, "auto", remember=(session_id, (*earlier, *sent)))
    return truth  # memory and prompt disagree (trimmed, edited, restored): the prompt wins


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
    dialect: Dialect | None = None,
    memory: MemoryLookup | None = None,
    internal: bool = False,
) -> ModelCall:
    """The one request builder of both framework classes.

    ``messages``: the call's transcript, already converted; ``option_layers``: call-option
    layers, lowest priority first (see :func:`resolve_call_options`; the last one is the
    call's own keyword arguments); ``carries_messages``: whether the dialect can send
    ``messages`` (read from ``dialect`` when given); ``media``: the files of each message (see
    :func:`~lyzr_stream._adapters.attachments.call_media`); ``dialect``: the client's, for its
    session ids and capabilities; ``memory``: what this process knows each session holds (the
    session record); ``internal``: a call the framework makes for itself (see the module doc).
    Applies the session rule, the message-shape rule and the tool-round rule of the module doc.
    """
    options = resolve_call_options(*option_layers, fallback_session_id=fallback_session_id)
    choice = normalize_tool_choice(tool_choice, [t.name for t in tools]) if tools else None
    internal = internal or response_format is not None or choice not in (None, "auto", "none")
    session_id = options.session_id
    fresh, readable = True, False
    if dialect is not None:
        carries_messages = "messages" not in dialect.unsupported_fields
        fresh, readable = dialect.makes_sessions, dialect.has_sessions
    if internal and fresh:
        # Framework-internal calls stay out of the agent's memory unless asked per call.
        explicit = option_layers[-1] if option_layers else None
        session_id = (explicit or {}).get("session_id")
    if session_id is not None and dialect is not None:
        session_id = dialect.session_id_for(session_id)
    plan = _plan_session(messages, session_id, message_mode, memory, readable=readable, fresh=fresh)
    has_session = plan.session_id is not None and not plan.whole
    mode = plan.mode
    # Files of what the session already holds are not sent again; a stateless call sends all.
    whole = (
        mode == "history"
        or (mode == "auto" and not has_session)
        or ends_without_user_turn(messages)
    )
    # A tool round of a session sends the current loop (from the user message that began it).
    loop = not whole and carries_messages and (bool(tools) or _in_tool_round(messages))
    parts = (
        call_media(messages, media, whole_transcript=whole, current_loop=loop)
        if media is not None
        else []
    )
    fields = request_fields(
        messages,
        mode=mode,
        has_session=has_session,
        tools=bool(tools),
        carries_messages=carries_messages,
    )
    if tools:
        fields["tools"] = tuple(tools)
        fields["tool_choice"] = choice
    if response_format is not None:
        fields["response_format"] = response_format
    values = {**options.request_fields(), "session_id": plan.session_id}
    request = AgentRequest(agent_id=agent_id, **fields, **values)
    chosen = {k: v for k, v in (policy or {}).items() if k in POLICY_NAMES}
    return ModelCall(
        request, chosen, CallAttachments(parts), learn=plan.learn, remember=plan.remember
    )
