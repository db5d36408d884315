"""Framework-neutral rules shared by ChatLyzr and LyzrLLM: call options and what to send.

**Call options** (``session_id``, ``user_id``, ``system_prompt_variables``,
``filter_variables``, ``features``, ``assets``) come from layers of rising priority; the
framework classes pass them in that order (for ChatLyzr: constructor fields, then
``config["configurable"]``, then per-call kwargs). A later layer's value replaces an earlier
one, except ``system_prompt_variables`` and ``filter_variables``, which are merged key by key.
``None`` never overrides. If no layer names a session id, ``fallback_session_id`` is used (for
example LangGraph's ``thread_id``), else the instance's own generated id.

**What to send.** The service keeps memory per session, so by default only the new turn goes out
(:func:`new_turn_text`): the messages after the last assistant message, system messages of that
tail first, then the user text, joined by blank lines. ``history`` mode
(:func:`history_fields`) sends the whole transcript as ``messages`` instead, for stateless use
and tool rounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import InvalidRequestError
from .request import ChatMessage

__all__ = [
    "CALL_OPTION_NAMES",
    "CallOptions",
    "MessageMode",
    "history_fields",
    "new_turn_text",
    "resolve_call_options",
]

MessageMode = Literal["turn", "history"]
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
        """Keyword arguments for :class:`~lyzr_stream.request.AgentRequest`."""
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


def _tail(messages: Sequence[ChatMessage]) -> Sequence[ChatMessage]:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "assistant":
            return messages[index + 1 :]
    return messages


def new_turn_text(messages: Sequence[ChatMessage]) -> str:
    """The text of the new turn: the tail after the last assistant message, system text first."""
    if not messages:
        raise InvalidRequestError("no messages to send")
    tail = _tail(messages)
    system = [m.content for m in tail if m.role == "system" and m.content.strip()]
    user = [m.content for m in tail if m.role in ("user", "tool") and m.content.strip()]
    if not user and not system:
        raise InvalidRequestError(
            "nothing new to send: the conversation ends with an assistant message (add a user "
            "message, or use message_mode='history')"
        )
    return "\n\n".join(system + user)


def history_fields(messages: Sequence[ChatMessage]) -> tuple[str, tuple[ChatMessage, ...]]:
    """``message`` and ``messages`` for history mode.

    ``messages`` is the whole transcript; ``message`` repeats the last user text (the field is
    required by the service), or is empty when the transcript ends with tool results.
    """
    if not messages:
        raise InvalidRequestError("no messages to send")
    last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    return last_user, tuple(messages)
