"""The request model: what the caller asks an agent, independent of any wire format.

Every dialect builds its HTTP request from an :class:`AgentRequest`. Validation happens here,
when the object is built, so bad input fails with :class:`~lyzr_stream._errors.InvalidRequestError`
before anything is sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ._errors import InvalidRequestError

__all__ = [
    "RESERVED_BODY_KEYS",
    "AgentRequest",
    "ChatMessage",
    "ToolSpec",
    "check_json_serialisable",
    "extra_body_problem",
    "own_errors",
]

Role = Literal["system", "user", "assistant", "tool"]

#: Body keys lyzr-stream sets itself, in any dialect: ``extra_body`` may not carry them.
RESERVED_BODY_KEYS = frozenset(
    {
        "agent_id",
        "message",
        "messages",
        "session_id",
        "user_id",
        "system_prompt_variables",
        "filter_variables",
        "features",
        "assets",
        "response_format",
        "tools",
        "tool_choice",
    }
)


def extra_body_problem(keys: Iterable[object]) -> str | None:
    """What is wrong with the keys of an ``extra_body`` mapping (one that is not a string, or
    one lyzr-stream sets itself), or None."""
    for key in keys:
        if not isinstance(key, str):
            return f"extra_body keys must be strings, got {key!r}"
        if key in RESERVED_BODY_KEYS:
            return (
                f"extra_body key {key!r} is set by lyzr-stream itself; pass it as its own "
                "argument"
            )
    return None


def check_json_serialisable(value: object, field_name: str) -> None:
    """Raise InvalidRequestError naming ``field_name`` if ``value`` cannot be sent as JSON."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"{field_name} must be JSON-serialisable: {exc}") from None


@contextmanager
def own_errors() -> Iterator[None]:
    """Around a framework model's construction: a pydantic ``ValidationError`` that wraps the
    package's own error is re-raised as that :class:`InvalidRequestError`.

    So a bad key, URL, dialect or timeout is an ``InvalidRequestError`` everywhere; pydantic's
    own field errors stay ``ValidationError`` there, as LangChain and LlamaIndex users expect.
    """
    try:
        yield
    except ValidationError as exc:
        for err in exc.errors():
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, InvalidRequestError):
                raise cause from None
        raise


def _format_validation_error(exc: ValidationError, model: str) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"]) or model
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return f"invalid {model}: " + "; ".join(parts)


class _Model(BaseModel):
    """Frozen, strict-about-unknown-fields base that reports errors as InvalidRequestError."""

    # defer_build: the validators are built when the first request is, not at import (about
    # 15 ms), so a program importing the package pays for them only if it builds a request.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidRequestError(_format_validation_error(exc, type(self).__name__)) from None


class ChatMessage(_Model):
    """One message of an OpenAI-style transcript (the ``messages`` field of the request)."""

    role: Role
    content: str = ""
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: tuple[Mapping[str, Any], ...] | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name is not None:
            out["name"] = self.name
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.tool_calls:
            out["tool_calls"] = [dict(c) for c in self.tool_calls]
        return out


class ToolSpec(_Model):
    """A tool the client can run: name, description and a JSON schema for its arguments."""

    name: str = Field(min_length=1)
    description: str = ""
    parameters: Mapping[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )

    @classmethod
    def from_openai(cls, tool: Mapping[str, Any]) -> ToolSpec:
        """From an OpenAI-format tool (``{"type": "function", "function": {...}}`` or the
        inner function object)."""
        function = tool.get("function", tool)
        if not isinstance(function, Mapping) or not function.get("name"):
            raise InvalidRequestError(f"a tool has no function name: {dict(tool)!r:.200}")
        return cls(
            name=function["name"],
            description=function.get("description") or "",
            parameters=function.get("parameters") or {"type": "object", "properties": {}},
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "parameters": dict(self.parameters),
        }


class AgentRequest(_Model):
    """One turn sent to an agent.

    ``message`` is the new user text; ``messages`` instead carries an OpenAI-style transcript
    (stateless use, tool rounds). Give exactly one of the two: the service takes them as
    alternatives, and a request with both or neither is refused. ``user_id`` and
    ``session_id`` left as ``None`` are filled in by the client (``LYZR_USER_ID`` or
    ``default_user``; a fresh session id). ``tools`` (with ``tool_choice``: ``"auto"``,
    ``"any"``/``"required"``, ``"none"`` or a tool name) and ``response_format`` are used by the
    local-tools protocol and structured output.

    ``extra_body`` carries body fields the official clients send and this package does not
    model (the Studio web client's ``provider_overrides``, say), as langchain-openai's
    ``extra_body`` does. It is added to the JSON body as given. A key the package sets itself
    (:data:`RESERVED_BODY_KEYS`, or any key the dialect's body already holds) is an
    :class:`~lyzr_stream._errors.InvalidRequestError` naming it: never silently overwritten.
    """

    agent_id: str
    message: str = ""
    user_id: str | None = None
    session_id: str | None = None
    system_prompt_variables: Mapping[str, Any] = Field(default_factory=dict)
    filter_variables: Mapping[str, Any] = Field(default_factory=dict)
    features: tuple[Mapping[str, Any], ...] = ()
    assets: tuple[str, ...] = ()
    messages: tuple[ChatMessage, ...] | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    response_format: Mapping[str, Any] | None = None
    extra_body: Mapping[str, Any] = Field(default_factory=dict)

    @field_validator("extra_body", mode="after")
    @classmethod
    def _extra_body_keys(cls, value: Mapping[str, Any]) -> Mapping[str, Any]:
        problem = extra_body_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("agent_id")
    @classmethod
    def _agent_id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be a non-empty string (the agent's id from Lyzr Studio)")
        return value

    @field_validator("user_id", "session_id")
    @classmethod
    def _ids_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank (leave it unset to use the default)")
        return value

    @field_validator(
        "system_prompt_variables",
        "filter_variables",
        "features",
        "response_format",
        "extra_body",
        mode="after",
    )
    @classmethod
    def _json_serialisable(cls, value: Any, info: Any) -> Any:
        try:
            json.dumps(value, allow_nan=False, default=_reject)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"must be JSON-serialisable ({exc})") from None
        return value

    @model_validator(mode="after")
    def _message_or_messages(self) -> AgentRequest:
        if not self.message.strip() and not self.messages:
            raise ValueError("message must be a non-empty string (or give messages)")
        if self.message and self.messages:
            raise ValueError(
                "give message or messages, not both (the service takes them as alternatives: "
                "put the new user text at the end of messages)"
            )
        if self.tool_choice is not None and not self.tools:
            raise ValueError("tool_choice needs tools")
        names = [t.name for t in self.tools]
        if len(set(names)) != len(names):
            raise ValueError(f"tool names must be unique, got {names}")
        if self.tool_choice not in (None, "auto", "any", "required", "none", *names):
            raise ValueError(
                f"tool_choice must be auto, any, required, none or a bound tool name, "
                f"got {self.tool_choice!r}"
            )
        return self


def _reject(obj: object) -> object:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError("NaN and infinity are not valid JSON")
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")
