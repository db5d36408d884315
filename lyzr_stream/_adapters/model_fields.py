"""What the framework model classes (ChatLyzr, LyzrLLM) share, framework-neutral.

Both are pydantic models with the same client fields and call-option fields, and both inherit
:class:`LyzrModelFields`, so that each rule lives once: how a model builds its client (at
construction, where every argument is checked), which of its fields form the lowest call-option
layer, and how it pickles without its key, header values or client.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from .._client import LyzrClient
from .._errors import InvalidRequestError, redact_url
from .._events import AgentEvent
from .._http.limits import DEFAULT_TIMEOUTS, Timeouts
from .._request import extra_body_problem, own_errors
from .._response import AgentResponse
from .._routes.tasks import check_wait
from ..dialects._sse import DEFAULT_MAX_EVENT_BYTES
from .closing import ClosesItsClient
from .conversation import CALL_OPTION_NAMES, MessageMode

__all__ = [
    "LyzrModelFields",
    "agent_event_fields",
    "carries_messages",
    "constructor_options",
    "message_text",
    "pickled_without_secrets",
    "response_fields",
]


class LyzrModelFields(BaseModel, ClosesItsClient):
    """The fields and the client lifecycle ChatLyzr and LyzrLLM share (each adds its
    framework's own fields on top).

    The lifecycle: the core client is built by a model validator at construction (so a bad
    key, URL, dialect or timeout fails there), kept in a private attribute and read through
    :attr:`client`. A pickle carries neither the key, nor the header values, nor the client;
    unpickling (in a worker process, say) rereads the key from ``LYZR_API_KEY`` there and builds
    a new client. It sits after the framework base in each class's MRO, so the frameworks' own
    ``__getstate__``/``__setstate__`` (LlamaIndex's ``BaseComponent``) wrap these.

    ``api_key`` and ``default_headers`` are declared by each class, which serialise them
    differently (LangChain secrets vs. LlamaIndex exclusion).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    if TYPE_CHECKING:  # declared by each class (see above), read here
        api_key: SecretStr | None
        default_headers: dict[str, str]

    _client: LyzrClient | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        # A misspelt argument (sesion_id=) is an error, as the same typo per call is; pydantic
        # would ignore it silently.
        unknown = sorted(set(data) - _accepted_names(type(self)))
        if unknown:
            raise InvalidRequestError(
                f"{type(self).__name__} got unexpected argument(s) {unknown}; see "
                f"help({type(self).__name__}) for its fields"
            )
        # A bad key, URL, dialect or timeout is this package's InvalidRequestError everywhere;
        # pydantic's own field errors stay ValidationError, as framework users expect.
        with own_errors():
            super().__init__(**data)

    agent_id: str = Field(description="The agent's id in Lyzr Studio.")
    base_url: str | None = Field(default=None, description="Service URL (LYZR_BASE_URL).")
    user_id: str | None = Field(default=None, description="User id (LYZR_USER_ID).")
    session_id: str | None = Field(default=None, description="Session id (server-side memory).")
    system_prompt_variables: dict[str, Any] = Field(
        default_factory=dict, description="Values for the agent's system prompt placeholders."
    )
    filter_variables: dict[str, Any] = Field(default_factory=dict, description="Filter values.")
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra JSON body fields (e.g. provider_overrides); per call merged key by key; "
        "a key lyzr-stream sets itself is refused.",
    )
    features: list[dict[str, Any]] = Field(default_factory=list, description="Agent features.")
    assets: list[str] = Field(default_factory=list, description="Uploaded asset ids.")
    dialect: str = Field(default="lyzr-v3", description="Wire format name.")
    dialect_options: dict[str, Any] = Field(default_factory=dict, description="Dialect options.")
    message_mode: MessageMode = Field(
        default="auto",
        description=(
            "'auto': the whole transcript without a session id, only the new turn with one; "
            "'turn': always only the new turn; 'history': always the whole transcript."
        ),
    )
    timeout: float | httpx.Timeout | Timeouts | None = Field(
        default=DEFAULT_TIMEOUTS,
        description=(
            "Seconds, httpx.Timeout or lyzr_stream.Timeouts; None: no timeout at all. The "
            "default is lyzr_stream.Timeouts() (DEFAULT_TIMEOUTS: connect 10 s, read 120 s, "
            "write 30 s, pool 30 s, no total)."
        ),
    )
    max_retries: int = Field(
        default=2,
        description="Retries before anything was delivered; an agent run only when it provably "
        "did not start (connect error; 429 or 503 with Retry-After).",
    )
    retry_unsafe: bool = Field(
        default=False,
        description="Retry agent runs after a 500, 502, 504 or timeout too (the agent may then "
        "run twice: its tools, memory writes and credits).",
    )
    coalesce: bool = Field(
        default=True, description="Text already received leaves as one chunk (never waits)."
    )
    max_event_bytes: int = Field(default=DEFAULT_MAX_EVENT_BYTES, description="Event size cap.")
    allow_insecure_http: bool = Field(default=False, description="Allow keys over plain http.")
    stop_on_exit: bool = Field(
        default=True,
        description="Ask the service to stop the agent when a stream is left before its end.",
    )
    agent_events: bool | None = Field(
        default=None,
        description="Merge the agent's events channel (Lyzr v3: server-side tool calls, "
        "thinking, progress) into streams; None: LYZR_AGENT_EVENTS.",
    )
    events_url: str | None = Field(
        default=None, description="Events channel ws(s):// URL (LYZR_EVENTS_URL)."
    )
    # -- background tasks (issue 27) --
    run_as_task: bool = Field(
        default=False,
        description="Run every call as a background task polled for its answer (Lyzr v3; for "
        "agents that run for minutes): a stream gives the answer as one chunk when the task "
        "completes, its progress as agent events before. No local tools.",
    )
    task_poll_interval: float = Field(
        default=2.0, description="Seconds between polls of a background task (run_as_task)."
    )

    @field_validator("task_poll_interval", mode="before")
    @classmethod
    def _poll_interval_is_a_number(cls, value: Any) -> Any:
        # Checked as given: pydantic would turn True into 1.0 and "2" into 2.0.
        check_wait(value, None)
        return value

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        """The pydantic repr's fields, with a URL's user info and query shown as [redacted]."""
        for name, value in super().__repr_args__():
            if name in ("base_url", "events_url") and isinstance(value, str):
                value = redact_url(value)
            yield name, value

    # -- the client lifecycle ----------------------------------------------------------------------
    @model_validator(mode="after")
    def _build_client(self) -> Self:
        problem = extra_body_problem(self.extra_body)
        if problem:
            raise InvalidRequestError(problem)
        self._check_fields()
        # Every argument is checked here, at construction: key, URL, dialect, timeouts.
        self._client = self._own(self._new_client(self.api_key))
        self._check_task_fields(self._client)
        self.api_key = self._client.settings.api_key
        return self

    def _check_task_fields(self, client: LyzrClient) -> None:
        """``run_as_task`` only with a dialect whose service runs background tasks (the poll
        interval is checked as given, by its field validator)."""
        dialect = client.settings.dialect
        if self.run_as_task and not dialect.has_tasks:
            raise InvalidRequestError(
                f"run_as_task needs a service with background tasks; the {dialect.name!r} "
                "dialect's has none (use dialect='lyzr-v3')"
            )

    def _own(self, client: LyzrClient) -> LyzrClient:
        """``client`` as this model's: a closed model's error names the model's class."""
        client._owner_name = type(self).__name__
        return client

    def _check_fields(self) -> None:
        """A class's own construction checks, run before its client is built (none here)."""

    def _new_client(self, api_key: SecretStr | None) -> LyzrClient:
        """The core client the fields describe (every argument is validated here)."""
        return LyzrClient(
            api_key=api_key,
            base_url=self.base_url,
            user_id=self.user_id,
            dialect=self.dialect,
            dialect_options=self.dialect_options or None,
            timeout=self.timeout,
            max_retries=self.max_retries,
            retry_unsafe=self.retry_unsafe,
            coalesce=self.coalesce,
            max_event_bytes=self.max_event_bytes,
            allow_insecure_http=self.allow_insecure_http,
            default_headers=self.default_headers or None,
            stop_on_exit=self.stop_on_exit,
            agent_events=self.agent_events,
            events_url=self.events_url,
        )

    @property
    def client(self) -> LyzrClient:
        """The core client (rebuilt after unpickling)."""
        if self._client is None:
            self._client = self._own(self._new_client(self.api_key))
        return self._client

    def __getstate__(self) -> dict[Any, Any]:
        """The pickled state, without the key, the header values and the client.

        ``default_headers`` values are secrets like the key (a proxy credential goes there);
        unlike the key they have no environment variable to come back from, so an unpickled
        model has none (set them again after unpickling if a proxy needs them).
        """
        return pickled_without_secrets(super().__getstate__())

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        # As at construction without a key: it comes from this process's LYZR_API_KEY, and
        # unpickling fails with an error naming that variable when it is not set.
        self._client = self._own(self._new_client(None))
        object.__setattr__(self, "api_key", self._client.settings.api_key)


def pickled_without_secrets(state: dict[Any, Any]) -> dict[Any, Any]:
    """A pydantic object's pickled state without its key, its header values (secrets too) and
    its client: the one rule for what a model or a retriever pickles (it rebuilds its client,
    with the key from ``LYZR_API_KEY``, when unpickled)."""
    state["__dict__"] = {**state["__dict__"], "api_key": None, "default_headers": {}}
    private = state.get("__pydantic_private__") or {}
    state["__pydantic_private__"] = {**private, "_client": None}
    return state


_Block = TypeVar("_Block")

#: Keys the frameworks themselves pass to the constructor that are not fields
#: (LlamaIndex's ``from_dict``/``from_json`` carry ``class_name``).
_FRAMEWORK_KEYS = frozenset({"class_name"})


@functools.cache
def _accepted_names(cls: type[BaseModel]) -> frozenset[str]:
    """Every field name and alias a model class accepts."""
    names = set(_FRAMEWORK_KEYS)
    for name, info in cls.model_fields.items():
        names.add(name)
        if info.alias:
            names.add(info.alias)
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(a for a in alias.choices if isinstance(a, str))
    return frozenset(names)


def carries_messages(client: LyzrClient) -> bool:
    """Whether the client's dialect can send a transcript (``messages``)."""
    return "messages" not in client.settings.dialect.unsupported_fields


def constructor_options(model: Any) -> dict[str, Any]:
    """The model's own call-option fields: the lowest layer of option resolution."""
    return {name: getattr(model, name) for name in CALL_OPTION_NAMES}


def response_fields(response: AgentResponse, timing: Mapping[str, float | None]) -> dict[str, Any]:
    """What both frameworks report about a finished answer (ChatLyzr's ``response_metadata``,
    LyzrLLM's ``additional_kwargs``): ids, finish reason, artifacts, service metadata, timing."""
    fields: dict[str, Any] = {
        "agent_id": response.agent_id,
        "session_id": response.session_id,
        "user_id": response.user_id,
        "message_id": response.message_id,
        "finish_reason": response.finish_reason,
    }
    if response.artifacts:
        fields["artifacts"] = [dict(a) for a in response.artifacts]
    if response.metadata:
        fields["service_metadata"] = dict(response.metadata)
    fields.update({k: v for k, v in timing.items() if v is not None})
    return fields


def agent_event_fields(event: AgentEvent) -> dict[str, Any]:
    """What both frameworks report of one of the agent's events (ChatLyzr's
    ``lyzr_agent_event`` custom event data, LyzrLLM's ``LyzrAgentEvent``)."""
    return {
        "type": event.type,
        "level": event.level,
        "status": event.status,
        "message": event.message,
        "update": event.update,
        "log_id": event.log_id,
        "raw": dict(event.raw),
    }


def message_text(
    blocks: Iterable[_Block],
    text_of: Callable[[_Block], str | None],
    *,
    holder: str,
    block_name: Callable[[_Block], str],
    carried: str,
) -> str:
    """The text a message's content blocks send, by both frameworks' one rule: text blocks are
    joined; blocks that travel another way (the agent's reasoning and tool calls, images and
    files as assets) add nothing (``text_of`` gives ``""``); any other block (``text_of`` gives
    None) is an error naming it, before anything is sent."""
    parts: list[str] = []
    for block in blocks:
        text = text_of(block)
        if text is None:
            raise InvalidRequestError(
                f"{holder} holds a {block_name(block)}, which the Lyzr protocol cannot carry "
                f"(text, and {carried} as Lyzr assets)"
            )
        parts.append(text)
    return "".join(parts)
