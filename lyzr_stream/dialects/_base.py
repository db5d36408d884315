"""The contract every dialect (wire format) fulfils. No I/O here.

A dialect turns an :class:`~lyzr_stream._request.AgentRequest` into an :class:`HttpRequest`, and
response bytes into normalized events through a :class:`StreamParser`. The I/O shell
(:mod:`lyzr_stream._client`) sends the request and feeds the parser; it knows nothing else about
the format, so adding a dialect touches neither the shell nor the framework classes.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import quote

from .._errors import AgentError, InvalidRequestError, LyzrError
from .._events import StreamEvent

if TYPE_CHECKING:  # annotations only: the contract loads without pydantic's model machinery
    from pydantic import SecretStr

    from .._files import StreamedBody
    from .._request import AgentRequest
    from .._response import AgentResponse

__all__ = [
    "MESSAGE_ONLY_UNSUPPORTED",
    "Credentials",
    "Dialect",
    "HttpRequest",
    "ParsedEvent",
    "StreamFailure",
    "StreamParser",
    "api_key_header",
    "encode_path_segment",
    "new_session_id",
]


@dataclass(frozen=True, slots=True)
class StreamFailure:
    """Parser output meaning "the stream failed here". The shell raises ``error``.

    Returned in order with the events before it, so text decoded from the same bytes as the
    failure still reaches the caller first. Callers of ``LyzrClient`` never see this object.
    """

    error: LyzrError


ParsedEvent = StreamEvent | StreamFailure


@dataclass(frozen=True, slots=True)
class Credentials:
    """What authenticates a request. Each dialect decides where it goes (header, cookie)."""

    api_key: SecretStr | None = None
    cookies: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request ready to send: ``path`` is relative to the base URL and already encoded. The
    one request type of the package: dialects build the agent calls with it, the routes (files,
    sessions) and the stop request too.

    The body is ``json`` (encoded by the client), or ``content`` already encoded, or a
    :class:`~lyzr_stream._files.StreamedBody` that each attempt reads again (a multipart upload:
    its files are never read whole), or neither (a ``GET``). ``headers`` and ``cookies`` may
    hold the credential: they are left out of the repr, and the client logs headers only with
    their values masked.
    """

    method: str
    path: str
    headers: Mapping[str, str] = field(repr=False)
    json: Mapping[str, Any] | None = None
    cookies: Mapping[str, str] = field(default_factory=dict, repr=False)
    content: bytes | StreamedBody | None = field(default=None, repr=False)


class StreamParser(Protocol):
    """Bytes in, events out. ``finish`` is called once at end of body."""

    def feed(self, chunk: bytes) -> list[ParsedEvent]: ...

    def finish(self) -> list[ParsedEvent]: ...


def encode_path_segment(value: str, what: str) -> str:
    """Percent-encode one path parameter; an empty value or a dot segment is refused."""
    if not value or value in {".", ".."}:
        raise InvalidRequestError(f"{what} must be a non-empty path segment, got {value!r}")
    return quote(value, safe="")

#: The request fields a format that carries only the message (Lyzr v2, AISquare, chat messages)
#: cannot send: its ``Dialect.unsupported_fields``.
MESSAGE_ONLY_UNSUPPORTED: frozenset[str] = frozenset(
    {
        "system_prompt_variables",
        "filter_variables",
        "features",
        "assets",
        "messages",
        "tools",
        "response_format",
    }
)


def new_session_id(agent_id: str) -> str:
    """A fresh session id in the Lyzr service's own style: ``<agent id>-<random>``."""
    return f"{agent_id}-{uuid.uuid4().hex[:12]}"


def api_key_header(credentials: Credentials) -> dict[str, str]:
    """``x-api-key``: how the Lyzr services take the key (docs/wire.md, "Lyzr Agent API v3")."""
    if credentials.api_key is None:
        return {}
    return {"x-api-key": credentials.api_key.get_secret_value()}


class Dialect(ABC):
    """One wire format. Subclasses are stateless and shared; a parser holds per-stream state.

    ``unsupported_fields`` lists request fields the format cannot carry: setting one raises
    :class:`~lyzr_stream._errors.InvalidRequestError` instead of silently dropping it.

    What the service offers besides the agent call is said by the class attributes below
    (files, session memory, the agent-events channel) and by :meth:`stop_request`; the client
    refuses a call the dialect's service does not have, naming the dialect.
    """

    name: ClassVar[str]
    default_base_url: ClassVar[str]
    unsupported_fields: ClassVar[frozenset[str]] = frozenset()
    #: True when the format has a one-shot (non-streaming) endpoint of its own.
    has_chat_endpoint: ClassVar[bool] = False
    #: False for formats authenticated some other way (cookies).
    requires_api_key: ClassVar[bool] = True
    #: The service takes file uploads (``LyzrClient.upload_assets``; Lyzr's asset route).
    has_files: ClassVar[bool] = False
    #: The service keeps session memory readable over its session routes
    #: (``LyzrClient.session_history``, ``list_sessions``, ``create_session``, ...).
    has_sessions: ClassVar[bool] = False
    #: The service has knowledge bases readable over its retrieval route, on a host of its own
    #: (``LyzrClient.retrieve``, ``rag_base_url``).
    has_knowledge_bases: ClassVar[bool] = False
    #: The service runs an agent as a background task polled for its answer
    #: (``LyzrClient.create_task``, ``get_task``, ``run_task``; Lyzr's task routes).
    has_tasks: ClassVar[bool] = False
    #: The client can start a fresh session on its own (:meth:`new_session_id`): False when
    #: sessions must exist on the service first (aisquare).
    makes_sessions: ClassVar[bool] = True
    #: The service publishes the agent's events on a WebSocket per session (``agent_events``).
    has_agent_events: ClassVar[bool] = False
    #: ``gen_ai.provider.name`` in traces (the GenAI semantic conventions); the dialect's name
    #: unless a subclass names its provider.
    provider_name: ClassVar[str | None] = None

    @property
    def provider(self) -> str:
        """The provider name traces report (:attr:`provider_name`, else :attr:`name`)."""
        return self.provider_name or self.name

    def auth_headers(self, credentials: Credentials) -> dict[str, str]:
        """The headers that authenticate a request to this service (``x-api-key`` unless a
        dialect says otherwise). The client adds them to the service's routes (files, sessions);
        a dialect adds them to its own requests."""
        return api_key_header(credentials)

    def validate(self, request: AgentRequest) -> None:
        """Reject fields this format cannot carry. Called before anything is sent."""
        for name in sorted(self.unsupported_fields):
            value = getattr(request, name)
            if value:
                raise InvalidRequestError(
                    f"the {self.name!r} dialect cannot send {name}; remove it or use a "
                    "dialect that supports it"
                )

    @abstractmethod
    def stream_request(self, request: AgentRequest, credentials: Credentials) -> HttpRequest:
        """The HTTP request that starts a stream. ``request`` has user and session ids set."""

    @abstractmethod
    def stream_parser(
        self, content_type: str, *, max_event_bytes: int, coalesce: bool = False
    ) -> StreamParser:
        """A fresh parser for one response with this content type.

        ``coalesce=True`` allows the parser to return the text of one ``feed`` as a single
        ``TextDelta`` (the shell merges them anyway); parsers may ignore it.
        """

    def new_session_id(self, agent_id: str) -> str:
        """A fresh session id in the form this service expects: ``<agent id>-<random>``."""
        return new_session_id(agent_id)

    def session_id_for(self, key: str) -> str:
        """The session id this service takes for a caller's session key (a LangGraph thread
        id, a ``session_id``): the key itself unless the service needs another form. Always
        the same id for the same key (docs/wire.md, "Chat messages stream", "AISquare")."""
        return key

    def chat_request(self, request: AgentRequest, credentials: Credentials) -> HttpRequest:
        """The one-shot request, for formats that have one (``has_chat_endpoint``)."""
        raise NotImplementedError(f"the {self.name!r} dialect has no one-shot endpoint")

    def parse_chat(self, body: bytes, request: AgentRequest) -> AgentResponse:
        """Parse a one-shot response body."""
        raise NotImplementedError(f"the {self.name!r} dialect has no one-shot endpoint")

    def stop_request(self, session_id: str, credentials: Credentials) -> HttpRequest | None:
        """The request that stops the session's running agent (sent when a caller leaves a
        stream early), or None when the service has none."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def agent_error(message: str) -> StreamFailure:
    """The failure for an error the agent reported inside a 200 stream."""
    message = message.strip() or "the agent reported an error without a message"
    return StreamFailure(AgentError(f"agent error: {message}"))
