"""The two ways the playground talks to an agent: ``ChatLyzr`` (LangChain) and ``LyzrLLM``
(LlamaIndex), the public classes users build on, each reduced to one stream of :data:`Piece`.

A piece is a text or reasoning delta, a timeline item (a tool call or result, or any other kind
of activity a later version reports: the page shows unknown kinds as they come), or the final
metadata. Only what a framework user can see is used: LangChain's ``astream_events`` (custom
events ``lyzr_tool_call`` / ``lyzr_tool_result``), LlamaIndex's streamed responses
(``thinking_delta``, ``tool_activity``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import SecretStr

__all__ = [
    "FRAMEWORKS",
    "Activity",
    "Backend",
    "Delta",
    "Final",
    "ModelSettings",
    "Piece",
    "Turn",
    "backend_for",
]

FRAMEWORKS = ("langchain", "llamaindex")

logger = logging.getLogger("lyzr_stream")

#: LangChain custom events of ChatLyzr, and their timeline kinds (others keep their name).
_LANGCHAIN_ACTIVITY = {
    "lyzr_tool_call": "tool_call",
    "lyzr_tool_result": "tool_result",
    "lyzr_agent_event": "agent_event",
}


@dataclass(frozen=True)
class Delta:
    kind: Literal["text", "reasoning"]
    text: str


@dataclass(frozen=True)
class Activity:
    """One timeline item: ``kind`` is ``tool_call``, ``tool_result``, ``local_tool_call`` or any
    other name a framework reports (agent events, later)."""

    kind: str
    name: str
    data: Any = None


@dataclass(frozen=True)
class Final:
    metadata: Mapping[str, Any]


Piece = Delta | Activity | Final


@dataclass(frozen=True)
class Turn:
    """One question from the page."""

    agent_id: str
    message: str
    session_id: str
    variables: Mapping[str, str] = field(default_factory=dict)

    def call_options(self) -> dict[str, Any]:
        # No variables means none sent: some dialects refuse the field even when empty.
        options: dict[str, Any] = {"session_id": self.session_id}
        if self.variables:
            options["system_prompt_variables"] = dict(self.variables)
        return options


@dataclass(frozen=True)
class ModelSettings:
    """How to build the models: everything but the agent id, which the page may change."""

    framework: str = "langchain"  # one of FRAMEWORKS
    dialect: str = "lyzr-v3"
    api_key: SecretStr | None = field(default=None, repr=False)
    base_url: str | None = None
    user_id: str | None = None
    timeout: float | None = None
    default_headers: Mapping[str, str] = field(default_factory=dict)
    #: The agent's events channel (Lyzr v3); None: the models follow LYZR_AGENT_EVENTS.
    agent_events: bool | None = None
    events_url: str | None = None

    def model_kwargs(self, agent_id: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"agent_id": agent_id, "dialect": self.dialect}
        for name in ("api_key", "base_url", "user_id", "timeout", "agent_events", "events_url"):
            value = getattr(self, name)
            if value is not None:
                kwargs[name] = value
        if self.default_headers:
            kwargs["default_headers"] = dict(self.default_headers)
        return kwargs


class Backend(Protocol):
    framework: str

    def new_session_id(self, agent_id: str) -> str: ...

    def unsupported_fields(self, agent_id: str) -> frozenset[str]: ...

    def check_session_id(self, agent_id: str, session_id: str) -> None: ...

    def secrets(self, agent_id: str) -> tuple[str, ...]: ...

    def pieces(self, turn: Turn) -> AsyncGenerator[Piece, None]: ...


class _Models:
    """One model per agent id (the page can switch agents), the most recent ``keep`` kept.

    A model pushed out is closed (its client's HTTP pools and their sockets) as soon as no
    answer streams through it: an answer holds its model with :meth:`using`, and the last one
    to leave closes a model that was pushed out meanwhile. Closing is a task on the running
    loop (the async pools belong to it), or a plain close outside one."""

    def __init__(self, settings: ModelSettings, build: Callable[..., Any], keep: int = 8) -> None:
        self._settings = settings
        self._build = build
        self._keep = keep
        self._models: OrderedDict[str, Any] = OrderedDict()
        #: Answers streaming through each model (by ``id``), while there are any.
        self._in_use: dict[int, int] = {}
        #: Closings under way (held until done: the loop keeps only weak references to tasks).
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._models)

    def get(self, agent_id: str) -> Any:
        model = self._models.pop(agent_id, None)
        if model is None:
            model = self._build(**self._settings.model_kwargs(agent_id))
        self._models[agent_id] = model
        while len(self._models) > self._keep:
            _, evicted = self._models.popitem(last=False)
            if id(evicted) not in self._in_use:
                self._close(evicted)
        return model

    @contextlib.asynccontextmanager
    async def using(self, agent_id: str) -> AsyncIterator[Any]:
        """The model of ``agent_id``, kept open until the block ends."""
        model = self.get(agent_id)
        key = id(model)
        self._in_use[key] = self._in_use.get(key, 0) + 1
        try:
            yield model
        finally:
            left = self._in_use.pop(key) - 1
            if left:
                self._in_use[key] = left
            elif self._models.get(agent_id) is not model:  # pushed out while in use
                self._close(model)

    def _close(self, model: Any) -> None:
        client = model.client
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            client.close()
            return
        task = loop.create_task(_aclose(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def closed(self) -> None:
        """Wait for the closings under way (tests, shutdown)."""
        while self._closing:
            await asyncio.wait(set(self._closing))


async def _aclose(client: Any) -> None:
    try:
        await client.aclose()
    except Exception as error:  # closing is best effort: the model is gone either way
        logger.warning("closing an evicted playground model failed: %s", type(error).__name__)


class _BackendBase:
    framework = ""

    def __init__(self, models: _Models) -> None:
        self._models = models

    def new_session_id(self, agent_id: str) -> str:
        return str(self._models.get(agent_id).client.new_session_id(agent_id))

    def unsupported_fields(self, agent_id: str) -> frozenset[str]:
        """Request fields the dialect cannot carry (the page disables their inputs)."""
        return frozenset(self._models.get(agent_id).client.settings.dialect.unsupported_fields)

    def check_session_id(self, agent_id: str, session_id: str) -> None:
        """Raises ``InvalidRequestError`` when the dialect cannot use this session id."""
        from ..._request import AgentRequest

        client = self._models.get(agent_id).client
        client.prepare(AgentRequest(agent_id=agent_id, message="-", session_id=session_id))

    def secrets(self, agent_id: str) -> tuple[str, ...]:
        """What no response may carry: the client's secrets (the key, every header value)."""
        secrets: tuple[str, ...] = self._models.get(agent_id).client.settings.secrets
        return secrets


class LangChainBackend(_BackendBase):
    framework = "langchain"

    async def pieces(self, turn: Turn) -> AsyncGenerator[Piece, None]:
        async with self._models.using(turn.agent_id) as model:
            events = model.astream_events(turn.message, version="v2", **turn.call_options())
            try:
                async for event in events:
                    for piece in _langchain_pieces(event):
                        yield piece
            finally:
                await events.aclose()


def _langchain_pieces(event: Mapping[str, Any]) -> list[Piece]:
    kind = event.get("event")
    data = event.get("data") or {}
    if kind == "on_chat_model_stream":
        chunk: Any = data.get("chunk")
        out: list[Piece] = []
        reasoning = chunk.additional_kwargs.get("reasoning_content")
        if reasoning:
            out.append(Delta("reasoning", str(reasoning)))
        if chunk.text:
            out.append(Delta("text", chunk.text))
        for call in chunk.tool_call_chunks or ():
            out.append(Activity("local_tool_call", str(call.get("name") or ""), call.get("args")))
        return out
    if kind == "on_custom_event":
        name = str(event.get("name", ""))
        payload = dict(data) if isinstance(data, Mapping) else {"value": data}
        payload.pop("raw", None)
        timeline_kind = _LANGCHAIN_ACTIVITY.get(name, name)
        # Tool events name their tool; agent events their type (memory lookup, sub-agent, ...).
        title = str(payload.pop("name", "") or payload.pop("type", "") or name)
        return [Activity(timeline_kind, title, _without_empty(payload))]
    if kind == "on_chat_model_end":
        output = data.get("output")
        metadata = getattr(output, "response_metadata", None) or {}
        return [Final(dict(metadata))]
    return []


class LlamaIndexBackend(_BackendBase):
    framework = "llamaindex"

    def __init__(self, models: _Models) -> None:
        super().__init__(models)
        self._agent_events = _AgentEventCollector.installed()

    async def pieces(self, turn: Turn) -> AsyncGenerator[Piece, None]:
        from llama_index.core.llms import ChatMessage

        # LyzrLLM dispatches agent events on the instrumentation bus, synchronously and in
        # stream order: those seen before a response come before its pieces.
        pending = self._agent_events.open(turn.session_id)
        try:
            async with self._models.using(turn.agent_id) as model:
                responses = await model.astream_chat(
                    [ChatMessage(role="user", content=turn.message)], **turn.call_options()
                )
                try:
                    async for response in responses:
                        while pending:
                            yield pending.pop(0)
                        extras = response.additional_kwargs
                        for piece in _llamaindex_pieces(response.delta, extras):
                            yield piece
                    while pending:
                        yield pending.pop(0)
                finally:
                    await responses.aclose()
        finally:
            self._agent_events.close(turn.session_id)


class _AgentEventCollector:
    """Routes ``LyzrAgentEvent`` from LlamaIndex's dispatcher to the open turn of its session."""

    _instance: _AgentEventCollector | None = None

    def __init__(self) -> None:
        self.turns: dict[str, list[Piece]] = {}

    @classmethod
    def installed(cls) -> _AgentEventCollector:
        if cls._instance is None:
            collector = cls()
            try:
                from llama_index.core.instrumentation import (  # type: ignore[attr-defined]
                    get_dispatcher,
                )
                from llama_index.core.instrumentation.event_handlers import BaseEventHandler

                from llamaindex_lyzr_stream import LyzrAgentEvent
            except ImportError:  # an older LyzrLLM without agent events: nothing to collect
                cls._instance = collector
                return collector

            class Handler(BaseEventHandler):
                def handle(self, event: Any, **kwargs: Any) -> None:
                    if isinstance(event, LyzrAgentEvent):
                        collector.take(event)

            get_dispatcher().add_event_handler(Handler())  # the root: every dispatcher reports
            cls._instance = collector
        return cls._instance

    def open(self, session_id: str) -> list[Piece]:
        return self.turns.setdefault(session_id, [])

    def close(self, session_id: str) -> None:
        self.turns.pop(session_id, None)

    def take(self, event: Any) -> None:
        pending = self.turns.get(event.session_id or "")
        if pending is None:
            return
        data = {
            "level": event.level,
            "status": event.status,
            "message": event.message,
            "update": event.update,
            "log_id": event.log_id,
        }
        pending.append(Activity("agent_event", str(event.event_type), _without_empty(data)))


def _without_empty(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None and v is not False}


def _llamaindex_pieces(delta: str | None, extras: Mapping[str, Any]) -> list[Piece]:
    out: list[Piece] = []
    thinking = extras.get("thinking_delta")
    if thinking:
        out.append(Delta("reasoning", str(thinking)))
    if delta:
        out.append(Delta("text", delta))
    activity = extras.get("tool_activity")
    # Per-event responses carry one activity (a dict); the final one lists them all again.
    if isinstance(activity, Mapping):
        data = {k: v for k, v in activity.items() if k not in ("phase", "name") and v is not None}
        out.append(Activity(f"tool_{activity.get('phase')}", str(activity.get("name", "")), data))
    if "finish_reason" in extras:
        out.append(Final({k: v for k, v in extras.items() if k != "tool_activity"}))
    return out


def backend_for(settings: ModelSettings) -> Backend:
    """The backend for ``settings.framework``; ImportError names the extra that is missing
    (the framework packages raise it)."""
    if settings.framework == "langchain":
        from langchain_lyzr_stream import ChatLyzr  # its ImportError names the extra
        return LangChainBackend(_Models(settings, ChatLyzr))
    if settings.framework == "llamaindex":
        from llamaindex_lyzr_stream import LyzrLLM  # its ImportError names the extra
        return LlamaIndexBackend(_Models(settings, LyzrLLM))
    choices = ", ".join(FRAMEWORKS)
    raise ValueError(f"framework must be one of {choices}, not {settings.framework!r}")
