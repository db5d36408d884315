"""``LyzrClient``: one object with sync and async methods over pooled HTTP connections."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from contextlib import aclosing, closing
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx

from ._agent_stop import STOP_MAX_BODY, STOP_RETRY, STOP_TIMEOUTS, AgentStopper
from ._errors import (
    APITimeoutError,
    InvalidRequestError,
    LyzrError,
    TaskFailedError,
    check_int_in_range,
    redact_url,
    redacted,
)
from ._events_channel import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_GRACE,
    DEFAULT_QUEUE_SIZE,
    AgentEventsSettings,
    merged_async_events,
    merged_events,
)
from ._http.connections import AsyncClosingContext, ClosingContext, Connections
from ._http.limits import DEFAULT_TIMEOUTS, NOT_GIVEN, RetryPolicy, TimeoutLike, Timeouts
from ._http.proxies import injected_proxy
from ._http.send import HttpCall, afetch, fetch
from ._json import encode_body
from ._request import AgentRequest
from ._routes.assets import DEFAULT_MAX_ASSET_BYTES, Asset, FileInput, upload_route
from ._routes.knowledge import RetrievedChunk, documents_route, retrieve_route
from ._routes.route import Route, Service
from ._routes.sessions import (
    SessionInfo,
    SessionMessage,
    create_session_route,
    delete_session_route,
    history_route,
    sessions_route,
)
from ._routes.tasks import (
    TASKS,
    TaskInfo,
    TaskStatus,
    check_wait,
    parse_created_task,
    stand_in_request,
    task_request,
    task_status_route,
)
from ._settings import ClientSettings, check_proxy_hop
from ._stream import (
    AgentCall,
    AsyncEventStream,
    EventStream,
    StreamState,
    ahttp_events,
    http_events,
)
from ._telemetry import (
    note_retry,
    traced_async_events,
    traced_call,
    traced_events,
    traced_retrieval,
    traced_task,
)
from ._version import __version__
from .dialects._base import Credentials, HttpRequest
from .dialects._base import new_session_id as new_session_id
from .dialects._sse import DEFAULT_MAX_EVENT_BYTES

if TYPE_CHECKING:
    from pydantic import SecretStr

    from ._http.pools import AsyncPools
    from ._response import AgentResponse
    from .dialects import Dialect


__all__ = ["LyzrClient", "new_session_id"]

T = TypeVar("T")

_USER_AGENT = f"lyzr-stream/{__version__}"
#: Far above any real need; a larger number only makes httpcore's pool bookkeeping slower.
_MAX_CONNECTIONS = 100_000


class LyzrClient(ClosingContext, AsyncClosingContext):
    """A client for one agent service (Lyzr v3 by default; other wire formats via ``dialect``).

    Connections are pooled: the ``httpx.Client`` and ``httpx.AsyncClient`` are created on first
    use and reused by every call. An async pool is kept per event loop, so ``asyncio.run``
    called several times works. After ``os.fork()`` the child builds its own pools. Pass
    ``http_client`` / ``async_http_client`` to supply your own (they are then not closed here).

    Args:
        api_key: the key; else ``LYZR_API_KEY``. Missing: :class:`InvalidRequestError` now.
        base_url: else ``LYZR_BASE_URL``, else the dialect's default
            (``https://agent-prod.studio.lyzr.ai``).
        user_id: default user id of requests that set none; else ``LYZR_USER_ID``, else
            ``default_user``.
        dialect: wire format name (see :func:`lyzr_stream.available_dialects`) or instance.
        dialect_options: keyword arguments for the named dialect (e.g. AISquare's
            ``auth_header``), so configuration stays plain data.
        timeout: seconds, ``httpx.Timeout`` or :class:`Timeouts` (connect, first_byte, read
            between chunks, total); ``None``: no timeout. Default: ``Timeouts()``.
        max_retries: retries before anything was delivered (default 2). A stream or a one-shot
            chat runs the agent, and is retried only when it provably started no run (the
            connection was never made; 429 or 503 with ``Retry-After``); other calls (history,
            sessions, uploads, stop) are idempotent and retried on any transient failure.
        retry_unsafe: retry agent runs like idempotent calls (after a 500, 502, 504 or a
            timeout too), at the risk of running the agent, its tools and its memory writes
            twice and paying for both. Off by default.
        coalesce: merge text deltas that arrive in the same network read (default True).
        max_event_bytes: cap on a single stream event and on a whole one-shot answer (default
            8 MiB).
        allow_insecure_http: permit sending credentials over ``http://`` to non-loopback hosts
            (or through a non-loopback proxy).
        default_headers: extra headers sent with every request (a proxy's, a tracing id). Their
            values are treated as secrets: never in a repr, a log line or an error message.
        max_connections: connections kept per pool (a positive integer, default 1000).
        trust_env: read ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY`` (and httpx's
            other environment settings); ``False`` ignores the environment.
        proxy: one proxy URL for every request (overrides the environment's).
        stop_on_exit: when you leave a stream before its end (break, close, cancel, Ctrl-C, a
            stop sequence, a client-side timeout), ask the service to stop the agent, so that it
            stops spending credits (dialects with a stop route; best effort, bounded to 2 s,
            never raises).
        agent_events: merge the agent's events channel (Lyzr v3: server-side tool calls,
            reasoning, progress) into streams; else ``LYZR_AGENT_EVENTS=1``. Off by default.
        events_url: the channel's ``ws(s)://`` base URL; else ``LYZR_EVENTS_URL``, else
            ``wss://metrics.studio.lyzr.ai``.
        events_connect_timeout: the most the channel may delay a stream's request (seconds).
        events_grace: how long the channel stays open for late events after the answer.
        rag_base_url: the knowledge-base host (:meth:`retrieve`); else ``LYZR_RAG_URL``, else
            ``https://rag-prod.studio.lyzr.ai``. Checked like ``base_url``.
        events_queue_size: how many agent events may wait for a slow caller (default 1000);
            beyond, the oldest are dropped, counted in the final ``StreamEnd``'s metadata and
            ``AgentResponse.metadata`` as ``agent_events_dropped``. Answer events never wait
            behind agent events and are never dropped.

    Stopping: :meth:`stop_session` / :meth:`astop_session` stop a session's running agent on
    demand (dialects with a stop route).

    Files and sessions (dialects whose service has them, ``Dialect.has_files`` and
    ``Dialect.has_sessions``: Lyzr v3): :meth:`upload_assets`, :meth:`session_history`,
    :meth:`list_sessions`, :meth:`create_session`, :meth:`delete_session` and their
    ``a``-prefixed async forms; knowledge bases (``Dialect.has_knowledge_bases``: Lyzr v3, on
    ``rag_base_url``): :meth:`retrieve`, :meth:`list_documents`. Each is one request on the
    same path as a one-shot chat (same pools, key, timeouts, retries, answer cap and typed
    errors).

    Background tasks (``Dialect.has_tasks``: Lyzr v3), for agents that run for minutes:
    :meth:`run_task` runs a request as a task and waits for its answer, polling;
    :meth:`create_task`, :meth:`get_task` and :meth:`task_updates` are its steps (each with an
    ``a``-prefixed async form).
    """

    #: Largest file :meth:`upload_assets` sends (bytes); set it on a client to change the cap.
    max_asset_bytes: int = DEFAULT_MAX_ASSET_BYTES

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        user_id: str | None = None,
        dialect: str | Dialect = "lyzr-v3",
        dialect_options: dict[str, Any] | None = None,
        timeout: TimeoutLike = DEFAULT_TIMEOUTS,
        max_retries: int = 2,
        retry_unsafe: bool = False,
        coalesce: bool = True,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        cookies: Mapping[str, str] | None = None,
        verify: bool = True,
        allow_insecure_http: bool = False,
        default_headers: Mapping[str, str] | None = None,
        max_connections: int = 1000,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        agent_events: bool | None = None,
        events_url: str | None = None,
        events_connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        events_grace: float = DEFAULT_GRACE,
        events_queue_size: int = DEFAULT_QUEUE_SIZE,
        trust_env: bool = True,
        proxy: str | None = None,
        stop_on_exit: bool = True,
        rag_base_url: str | None = None,
    ) -> None:
        check_int_in_range("max_connections", max_connections, 1, _MAX_CONNECTIONS)
        self.settings = ClientSettings.resolve(
            api_key=api_key,
            base_url=base_url,
            user_id=user_id,
            dialect=dialect,
            dialect_options=dialect_options,
            timeout=timeout,
            max_retries=max_retries,
            retry_unsafe=retry_unsafe,
            coalesce=coalesce,
            max_event_bytes=max_event_bytes,
            cookies=cookies,
            verify=verify,
            allow_insecure_http=allow_insecure_http,
            default_headers=default_headers,
            trust_env=trust_env,
            proxy=proxy,
            stop_on_exit=stop_on_exit,
            rag_base_url=rag_base_url,
        )
        for given in (http_client, async_http_client):
            if given is None:
                continue
            for service_url in (self.settings.base_url, self.settings.rag_base_url):
                check_proxy_hop(
                    service_url,
                    injected_proxy(given, service_url),
                    allow_insecure_http or self.settings.api_key is None,
                )
        self._credentials = Credentials(self.settings.api_key, self.settings.cookies)
        self._connections = Connections(
            max_connections=max_connections,
            verify=self.settings.verify,
            trust_env=self.settings.trust_env,
            proxy=self.settings.proxy,
            headers={"user-agent": _USER_AGENT},
            http_client=http_client,
            async_http_client=async_http_client,
        )
        self._stopper = (
            AgentStopper(
                self._stop_call,
                self._connections.new_sync_client if http_client is None else lambda: http_client,
                owns_http=http_client is None,
            )
            if self.settings.stop_on_exit
            else None
        )
        self.agent_events = AgentEventsSettings.resolve(
            agent_events,
            events_url,
            dialect=self.settings.dialect,
            allow_insecure_http=allow_insecure_http,
            secrets=self.settings.secrets,
            connect_timeout=events_connect_timeout,
            grace=events_grace,
            queue_size=events_queue_size,
        )
        self._closed = False
        #: The name a closed-client error gives (a model that owns this client sets its own).
        self._owner_name = "LyzrClient"
        # A client dropped without close() leaks no socket: its sync connections (the pool and
        # the stops' client) are closed when it is garbage-collected, or at interpreter exit.
        # (Async pools close with their event loop.) The callback holds the connections only.
        self._finalizer = weakref.finalize(self, self._connections.close)

    def __repr__(self) -> str:
        s = self.settings
        return f"LyzrClient(base_url={redact_url(s.base_url)!r}, dialect={s.dialect.name!r})"

    # -- preparing a call ----------------------------------------------------------------------
    def new_session_id(self, agent_id: str) -> str:
        """A fresh session id in the form the dialect's service expects."""
        return self.settings.dialect.new_session_id(agent_id)

    def prepare(self, request: AgentRequest) -> AgentRequest:
        """Fill in the default user id and a fresh session id, and check the dialect accepts it.

        Called by every method that sends a request; use it directly to learn the session id a
        stateless call will use. A request without ``session_id`` starts a new conversation each
        call; keep the id from the response (``AgentResponse.session_id``,
        ``EventStream.session_id``) to continue it.
        """
        if not isinstance(request, AgentRequest):
            raise InvalidRequestError(f"expected an AgentRequest, got {type(request).__name__}")
        updates: dict[str, str] = {}
        if request.user_id is None:
            updates["user_id"] = self.settings.user_id
        if request.session_id is None:
            updates["session_id"] = self.new_session_id(request.agent_id)
        if updates:
            request = request.model_copy(update=updates)
        self.settings.dialect.validate(request)
        return request

    def _http_call(
        self,
        request: HttpRequest,
        timeouts: Timeouts,
        retry: RetryPolicy,
        max_body: int | None = None,
        *,
        runs_agent: bool = False,
        base_url: str | None = None,
    ) -> HttpCall:
        """``request`` ready to send on the one request path: ``default_headers`` added (the
        request's own headers, auth and content type, win), its body encoded once.
        ``runs_agent``: the call starts an agent run (retried only when it provably did not).
        ``base_url``: the host it goes to (default: the client's ``base_url``)."""
        settings = self.settings
        if settings.default_headers:
            request = replace(request, headers={**settings.default_headers, **request.headers})
        if request.content is not None:
            content = request.content
        elif request.json is not None:
            content = encode_body(request.json)
        else:
            content = b""
        return HttpCall(
            request=request,
            url=(settings.base_url if base_url is None else base_url) + request.path,
            content=content,
            timeouts=timeouts,
            retry=retry,
            max_body=settings.max_event_bytes if max_body is None else max_body,
            secrets=settings.secrets,
            on_retry=note_retry,
            runs_agent=runs_agent,
        )

    def _agent_call(
        self,
        request: AgentRequest,
        build: Callable[[AgentRequest, Credentials], HttpRequest],
        timeout: TimeoutLike,
        max_retries: int | None,
    ) -> AgentCall:
        """The one place an agent call is prepared, for streams and one-shot chats alike."""
        self._check_open()
        request = self.prepare(request)
        try:
            http_request = with_extra_body(build(request, self._credentials), request)
            timeouts, retry = self.settings.call_limits(timeout, max_retries)
            http = self._http_call(http_request, timeouts, retry, runs_agent=True)
        except UnicodeEncodeError:
            # Text that cannot be encoded is the caller's error, not a raw UnicodeEncodeError
            # from deep inside the URL or JSON encoder.
            raise InvalidRequestError(
                "the request holds text that is not valid Unicode (a lone surrogate, often left by"
                " a broken decode) in an id, the message or a variable"
            ) from None
        return AgentCall(self.settings, request, http, self._stopper)

    def _stop_call(self, session_id: str) -> HttpCall | None:
        """The request that stops ``session_id``'s agent, bounded as a whole (None: the
        dialect's service has no stop route)."""
        stop = self.settings.dialect.stop_request(session_id, self._credentials)
        if stop is None:
            return None
        return self._http_call(stop, STOP_TIMEOUTS, STOP_RETRY, STOP_MAX_BODY)

    # -- the agent calls -------------------------------------------------------------------------
    def stream(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> EventStream:
        """Stream one turn. Iterate the result for events; the request goes out on first read.

        ``timeout`` and ``max_retries`` replace the client's for this call (``timeout=None``:
        no timeout)."""
        call = self._agent_call(request, self.settings.dialect.stream_request, timeout, max_retries)
        state = StreamState(call)
        events: Generator[Any, None, None] = http_events(state, self._connections.sync())
        if self.agent_events is not None:
            events = merged_events(events, state, self.agent_events, self.settings.api_key)
        return EventStream(state, traced_events(events, call.settings, call.request))

    def astream(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> AsyncEventStream:
        """Async form of :meth:`stream` (``async for event in client.astream(req)``)."""
        call = self._agent_call(request, self.settings.dialect.stream_request, timeout, max_retries)
        state = StreamState(call)
        pools = self._async_pools()
        events: AsyncGenerator[Any, None] = ahttp_events(state, pools)
        if self.agent_events is not None:
            events = merged_async_events(
                events, state, self.agent_events, self.settings.api_key, pools
            )
        return AsyncEventStream(state, traced_async_events(events, call.settings, call.request))

    def chat(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> AgentResponse:
        """One turn, whole. Uses the dialect's one-shot endpoint, or reads a stream to its end.

        The answer is read capped at ``max_event_bytes`` and within the ``total`` timeout."""
        if not self.settings.dialect.has_chat_endpoint:
            with self.stream(request, timeout=timeout, max_retries=max_retries) as events:
                return events.until_done()
        call = self._agent_call(request, self.settings.dialect.chat_request, timeout, max_retries)
        if call.stopper is not None:
            call.stopper.settle(call.session_id)
        with traced_call(call.settings, call.request) as span:
            return self._fetch_run(call, _chat_parser(call, span))

    async def achat(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> AgentResponse:
        """Async form of :meth:`chat`."""
        if not self.settings.dialect.has_chat_endpoint:
            async with self.astream(request, timeout=timeout, max_retries=max_retries) as events:
                return await events.until_done()
        call = self._agent_call(request, self.settings.dialect.chat_request, timeout, max_retries)
        if call.stopper is not None:
            await call.stopper.asettle(call.session_id)
        pools = self._async_pools()
        with traced_call(call.settings, call.request) as span:
            return await self._afetch_run(call, pools, _chat_parser(call, span))

    def _fetch_run(self, call: AgentCall, parse: Callable[[bytes], T]) -> T:
        """A one-shot request that runs the agent (a chat, a task's creation), sent: after a
        timeout with the request out, the agent may still be running, so the service is asked
        to stop it (best effort) before the error is raised."""
        try:
            return fetch(self._connections.sync(), call.http, parse)
        except APITimeoutError as error:
            if call.stopper is not None and error.request_sent:
                call.stopper.stop(call.session_id)
            raise

    async def _afetch_run(
        self, call: AgentCall, pools: AsyncPools, parse: Callable[[bytes], T]
    ) -> T:
        """Async :meth:`_fetch_run`."""
        try:
            return await afetch(pools, call.http, parse)
        except APITimeoutError as error:
            if call.stopper is not None and error.request_sent:
                call.stopper.astop(pools, call.session_id)
            raise

    # -- the service's other routes ------------------------------------------------------------
    def _route_call(
        self, route: Route[Any], timeout: TimeoutLike, max_retries: int | None
    ) -> HttpCall:
        """``route`` ready to send, authenticated as the dialect says; refused when the
        dialect's service does not have it."""
        self._check_open()
        self._check_service(route.service)
        dialect = self.settings.dialect
        request = route.request
        auth = dialect.auth_headers(self._credentials)
        if auth:
            request = replace(request, headers={**request.headers, **auth})
        timeouts, retry = self.settings.call_limits(timeout, max_retries)
        base_url = getattr(self.settings, route.service.host)
        return self._http_call(request, timeouts, retry, base_url=base_url)

    def _check_service(self, service: Service) -> None:
        """Refuse a route the dialect's service does not have, naming the dialect."""
        dialect = self.settings.dialect
        if not service.offered_by(dialect):
            raise InvalidRequestError(
                f"{service.what} are routes of the Lyzr API; the {dialect.name!r} "
                "dialect's service has none (use dialect='lyzr-v3')"
            )

    def _send(self, route: Route[T], timeout: TimeoutLike, max_retries: int | None) -> T:
        call = self._route_call(route, timeout, max_retries)
        return fetch(self._connections.sync(), call, route.parse)

    async def _asend(self, route: Route[T], timeout: TimeoutLike, max_retries: int | None) -> T:
        call = self._route_call(route, timeout, max_retries)
        return await afetch(self._async_pools(), call, route.parse)

    def _upload_route(
        self, files: Sequence[FileInput] | FileInput, max_bytes: int | None
    ) -> Route[list[Asset]]:
        return upload_route(files, self.max_asset_bytes if max_bytes is None else max_bytes)

    def upload_assets(
        self,
        files: Sequence[FileInput] | FileInput,
        *,
        max_bytes: int | None = None,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[Asset]:
        """Upload files as Lyzr assets; pass the returned ``asset_id``\\ s in ``assets=[...]``.

        Each file is a path, a binary file object with a name, ``(name, bytes)``,
        ``(name, bytes, mime_type)`` or an :class:`~lyzr_stream.UploadFile`. Checked before
        sending: PDF, DOCX, PPTX, XLSX, XLS, JPEG or PNG, not empty, at most ``max_bytes``
        (default :attr:`max_asset_bytes`, 10 MiB), else ``InvalidRequestError``. All files go
        in one request; if the service refuses any, :class:`~lyzr_stream.AssetUploadError` names
        each refused file (and lists those that did upload).
        """
        return self._send(self._upload_route(files, max_bytes), timeout, max_retries)

    async def aupload_assets(
        self,
        files: Sequence[FileInput] | FileInput,
        *,
        max_bytes: int | None = None,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[Asset]:
        """Async form of :meth:`upload_assets`."""
        return await self._asend(self._upload_route(files, max_bytes), timeout, max_retries)

    def session_history(
        self,
        session_id: str,
        *,
        agent_id: str | None = None,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[SessionMessage]:
        """The session's memory, oldest turn first (``GET /v1/sessions/{id}/history``; with
        ``agent_id``, the agent-scoped route). An unknown session reads as empty or raises
        ``NotFoundError``, as the service answers."""
        return self._send(history_route(session_id, agent_id), timeout, max_retries)

    async def asession_history(
        self,
        session_id: str,
        *,
        agent_id: str | None = None,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[SessionMessage]:
        """Async form of :meth:`session_history`."""
        return await self._asend(history_route(session_id, agent_id), timeout, max_retries)

    def list_sessions(
        self,
        agent_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[SessionInfo]:
        """The agent's sessions (``GET /v1/agent/{agent_id}/sessions``)."""
        return self._send(sessions_route(agent_id), timeout, max_retries)

    async def alist_sessions(
        self,
        agent_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[SessionInfo]:
        """Async form of :meth:`list_sessions`."""
        return await self._asend(sessions_route(agent_id), timeout, max_retries)

    def _create_route(
        self, agent_id: str, user_id: str | None, metadata: Mapping[str, Any] | None
    ) -> Route[str]:
        return create_session_route(agent_id, user_id or self.settings.user_id, metadata)

    def create_session(
        self,
        agent_id: str,
        *,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> str:
        """Create a session on the service and return its id (``POST /v1/sessions/{agent}``).

        Not needed to chat: any new ``session_id`` starts a session. Use it to attach
        ``metadata`` (a title, say) the way the Studio web client does.
        """
        route = self._create_route(agent_id, user_id, metadata)
        return self._send(route, timeout, max_retries)

    async def acreate_session(
        self,
        agent_id: str,
        *,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> str:
        """Async form of :meth:`create_session`."""
        route = self._create_route(agent_id, user_id, metadata)
        return await self._asend(route, timeout, max_retries)

    def delete_session(
        self,
        session_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> None:
        """Delete the session and its memory (``DELETE /v1/sessions/{session_id}``)."""
        self._send(delete_session_route(session_id), timeout, max_retries)

    async def adelete_session(
        self,
        session_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> None:
        """Async form of :meth:`delete_session`."""
        await self._asend(delete_session_route(session_id), timeout, max_retries)

    # -- knowledge bases ---------------------------------------------------------------------
    def retrieve(
        self,
        rag_id: str,
        query: str,
        *,
        top_k: int | None = None,
        retrieval_type: str | None = None,
        score_threshold: float | None = None,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[RetrievedChunk]:
        """The passages of knowledge base ``rag_id`` most relevant to ``query``, best first
        (``GET /v3/rag/{rag_id}/retrieve/`` on ``rag_base_url``).

        ``top_k``: at most this many (a positive integer); ``retrieval_type``: the service's
        method (``basic``, ``mmr``, ``hyde``, ``time_aware``); ``score_threshold``: drop
        passages scored below it (0 to 1). Left ``None``, the service's defaults apply. Bad
        arguments raise :class:`~lyzr_stream.InvalidRequestError` before anything is sent; an
        unknown base :class:`~lyzr_stream.NotFoundError`. Idempotent: retried like the other
        routes."""
        route = retrieve_route(
            rag_id, query, top_k=top_k, retrieval_type=retrieval_type,
            score_threshold=score_threshold,
        )
        call = self._route_call(route, timeout, max_retries)
        with traced_retrieval(self.settings, rag_id, top_k) as span:
            chunks = fetch(self._connections.sync(), call, route.parse)
            span.chunks(chunks)
            return chunks

    async def aretrieve(
        self,
        rag_id: str,
        query: str,
        *,
        top_k: int | None = None,
        retrieval_type: str | None = None,
        score_threshold: float | None = None,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[RetrievedChunk]:
        """Async form of :meth:`retrieve`."""
        route = retrieve_route(
            rag_id, query, top_k=top_k, retrieval_type=retrieval_type,
            score_threshold=score_threshold,
        )
        call = self._route_call(route, timeout, max_retries)
        with traced_retrieval(self.settings, rag_id, top_k) as span:
            chunks = await afetch(self._async_pools(), call, route.parse)
            span.chunks(chunks)
            return chunks

    def list_documents(
        self,
        rag_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[str]:
        """The names of the documents in knowledge base ``rag_id``
        (``GET /v3/rag/documents/{rag_id}/`` on ``rag_base_url``)."""
        return self._send(documents_route(rag_id), timeout, max_retries)

    async def alist_documents(
        self,
        rag_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[str]:
        """Async form of :meth:`list_documents`."""
        return await self._asend(documents_route(rag_id), timeout, max_retries)

    # -- stopping a running agent ---------------------------------------------------------------
    def _stop_session_call(
        self, session_id: str, timeout: TimeoutLike, max_retries: int | None
    ) -> HttpCall:
        """The stop route of ``session_id`` on the one request path, with the call's limits
        (not the best-effort bounds of a stop sent on early exit)."""
        self._check_open()
        if not isinstance(session_id, str) or not session_id.strip():
            raise InvalidRequestError("session_id must be a non-empty string")
        dialect = self.settings.dialect
        stop = dialect.stop_request(session_id, self._credentials)
        if stop is None:
            raise InvalidRequestError(
                f"the {dialect.name!r} dialect's service has no stop route (use dialect='lyzr-v3')"
            )
        timeouts, retry = self.settings.call_limits(timeout, max_retries)
        return self._http_call(stop, timeouts, retry, STOP_MAX_BODY)

    def stop_session(
        self,
        session_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> None:
        """Ask the service to stop the agent running in ``session_id`` now (Lyzr v3:
        ``POST /v3/inference/session/{session_id}/stop``, the web client's stop button).

        Unlike the stop sent when a stream is left early (best effort, never raises), this is
        an ordinary call: the client's timeouts, retries (a stop is idempotent) and typed
        errors. The service accepts a stop for a session with nothing running."""
        call = self._stop_session_call(session_id, timeout, max_retries)
        fetch(self._connections.sync(), call, len)

    async def astop_session(
        self,
        session_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> None:
        """Async form of :meth:`stop_session`."""
        call = self._stop_session_call(session_id, timeout, max_retries)
        await afetch(self._async_pools(), call, len)

    # -- background tasks ------------------------------------------------------------------------
    # A task is an agent run the service keeps going without a held-open HTTP answer: created
    # (that request runs the agent, like a chat), then polled (idempotent reads) until it ends
    # (docs/wire.md, "Files, sessions and tasks"; the routes in ``_routes/tasks.py``).
    def _task_call(
        self, request: AgentRequest, timeout: TimeoutLike, max_retries: int | None
    ) -> AgentCall:
        """The create request, prepared as every agent call is (``_agent_call``: ids filled in,
        ``extra_body`` added, ``runs_agent``): the dialect's one-shot chat request sent to the
        task route, so the two bodies are the same by construction."""
        self._check_open()
        self._check_service(TASKS)
        if isinstance(request, AgentRequest) and request.tools:
            raise InvalidRequestError(
                "a background task cannot run local tools (tools=...): their calls come back "
                "to the caller, which a task has no way to do; use chat() or stream()"
            )
        chat_request = self.settings.dialect.chat_request
        return self._agent_call(
            request, lambda r, c: task_request(chat_request(r, c)), timeout, max_retries
        )

    def _task_result_parser(
        self, request: AgentRequest | None
    ) -> Callable[[bytes, str], AgentResponse]:
        """How a completed task's result becomes the response: the one-shot chat parsing,
        against the request that created it (or one made of the ids the result names)."""
        dialect, user_id = self.settings.dialect, self.settings.user_id

        def parse(result: bytes, task_id: str) -> AgentResponse:
            against = request or stand_in_request(result, task_id, user_id)
            return dialect.parse_chat(result, against)

        return parse

    # A create that timed out may have started the run, with no task id to find it by: it is
    # stopped by its session (_fetch_run).
    def _create_task(self, call: AgentCall) -> TaskInfo:
        if call.stopper is not None:
            call.stopper.settle(call.session_id)
        return self._fetch_run(call, _created_parser(call))

    async def _acreate_task(self, call: AgentCall, pools: AsyncPools) -> TaskInfo:
        if call.stopper is not None:
            await call.stopper.asettle(call.session_id)
        return await self._afetch_run(call, pools, _created_parser(call))

    def create_task(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> TaskInfo:
        """Start the agent on ``request`` as a background task (Lyzr v3:
        ``POST /v3/inference/task/`` with the one-shot chat body) and return at once with its
        ``task_id`` (and the ``session_id`` the run uses). Poll it with :meth:`get_task`, or use
        :meth:`run_task` to wait for the answer.

        This request runs the agent: it is retried only when it provably started nothing, as a
        chat is. ``tools`` (local tools) are refused: a task cannot hand their calls back."""
        return self._create_task(self._task_call(request, timeout, max_retries))

    async def acreate_task(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> TaskInfo:
        """Async form of :meth:`create_task`."""
        call = self._task_call(request, timeout, max_retries)
        return await self._acreate_task(call, self._async_pools())

    def _status_route(self, task_id: str, request: AgentRequest | None = None) -> Route[TaskStatus]:
        return task_status_route(task_id, self._task_result_parser(request))

    def get_task(
        self,
        task_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> TaskStatus:
        """One poll of a background task (``GET /v3/inference/task/{task_id}``): its status,
        and once ``done`` its ``response`` (completed; the same ``AgentResponse`` a one-shot
        chat gives) or its ``error`` (failed). An idempotent read: retried on any transient
        failure. An unknown task raises ``NotFoundError``."""
        return self._send(self._status_route(task_id), timeout, max_retries)

    async def aget_task(
        self,
        task_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> TaskStatus:
        """Async form of :meth:`get_task`."""
        return await self._asend(self._status_route(task_id), timeout, max_retries)

    def task_updates(
        self,
        request: AgentRequest,
        *,
        poll_interval: float = 2.0,
        timeout: float | None = None,
        request_timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> Generator[TaskStatus, None, None]:
        """Create a background task and yield each poll's :class:`TaskStatus`, every
        ``poll_interval`` seconds (lyzr-adk polls every 2 s), until the last one: the completed
        task, its ``response`` set. The way :meth:`run_task` waits, for a caller that wants the
        progress too. Nothing is sent before the first ``next()``; the arguments are checked
        now.

        A failed task raises :class:`~lyzr_stream.TaskFailedError`; a task still running after
        ``timeout`` seconds raises :class:`~lyzr_stream.APITimeoutError` (``kind="task"``,
        ``task_id`` set) and keeps running on the service: resume with :meth:`get_task`.
        Leaving otherwise before the end (``break``, ``close()``, Ctrl-C, an error of a poll)
        asks the service to stop the run's session (``stop_on_exit``, best effort). A poll
        that fails transiently is retried like any read; the task is never created twice.
        ``request_timeout`` and ``max_retries`` apply to each request (``timeout`` of
        :meth:`chat`)."""
        check_wait(poll_interval, timeout)
        call = self._task_call(request, request_timeout, max_retries)
        return self._task_updates(call, poll_interval, timeout, request_timeout, max_retries)

    def _task_updates(
        self,
        call: AgentCall,
        poll_interval: float,
        timeout: float | None,
        request_timeout: TimeoutLike,
        max_retries: int | None,
    ) -> Generator[TaskStatus, None, None]:
        run = _TaskRun(call, poll_interval, timeout)
        try:
            with traced_task(call.settings, call.request) as span:
                with span.current():
                    info = self._create_task(call)
                run.created(info.task_id)
                span.task(info.task_id)
                route = self._status_route(info.task_id, call.request)
                while True:
                    time.sleep(run.next_delay())
                    with span.current():
                        status = self._send(route, request_timeout, max_retries)
                    run.check(status)
                    if status.done:
                        break
                    yield status
                if status.response is not None:
                    span.response(status.response)
            # The last status leaves after the span ended: a caller that stops reading once it
            # has the answer did not leave the run early.
            yield status
        except BaseException as exc:
            if run.should_stop(exc) and call.stopper is not None:
                call.stopper.stop(call.session_id)
            raise

    def atask_updates(
        self,
        request: AgentRequest,
        *,
        poll_interval: float = 2.0,
        timeout: float | None = None,
        request_timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> AsyncGenerator[TaskStatus, None]:
        """Async form of :meth:`task_updates` (a cancelled task or ``aclose()`` before the end
        stops the run's session)."""
        check_wait(poll_interval, timeout)
        call = self._task_call(request, request_timeout, max_retries)
        return self._atask_updates(call, poll_interval, timeout, request_timeout, max_retries)

    async def _atask_updates(
        self,
        call: AgentCall,
        poll_interval: float,
        timeout: float | None,
        request_timeout: TimeoutLike,
        max_retries: int | None,
    ) -> AsyncGenerator[TaskStatus, None]:
        run = _TaskRun(call, poll_interval, timeout)
        pools = self._async_pools()
        try:
            with traced_task(call.settings, call.request) as span:
                with span.current():
                    info = await self._acreate_task(call, pools)
                run.created(info.task_id)
                span.task(info.task_id)
                route = self._status_route(info.task_id, call.request)
                while True:
                    await asyncio.sleep(run.next_delay())
                    with span.current():
                        status = await self._asend(route, request_timeout, max_retries)
                    run.check(status)
                    if status.done:
                        break
                    yield status
                if status.response is not None:
                    span.response(status.response)
            # The last status leaves after the span ended: a caller that stops reading once it
            # has the answer did not leave the run early.
            yield status
        except BaseException as exc:
            if run.should_stop(exc) and call.stopper is not None:
                call.stopper.astop(pools, call.session_id)
            raise

    def run_task(
        self,
        request: AgentRequest,
        *,
        poll_interval: float = 2.0,
        timeout: float | None = None,
        request_timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> AgentResponse:
        """Run ``request`` as a background task and wait for its answer: :meth:`create_task`,
        then :meth:`get_task` every ``poll_interval`` seconds until it ends. For agents that
        run for minutes, where an HTTP answer held open that long is fragile.

        Returns the same :class:`~lyzr_stream.AgentResponse` a one-shot :meth:`chat` gives.
        A failed task raises :class:`~lyzr_stream.TaskFailedError` (an ``AgentError``: the
        service's ``reason`` and the ``task_id``); past ``timeout`` seconds,
        :class:`~lyzr_stream.APITimeoutError` with ``task_id``, the task left running (resume
        with :meth:`get_task`). Ctrl-C or an error of a poll stops the run's session (best
        effort). See :meth:`task_updates` for the rest."""
        updates = self.task_updates(
            request,
            poll_interval=poll_interval,
            timeout=timeout,
            request_timeout=request_timeout,
            max_retries=max_retries,
        )
        with closing(updates):
            for status in updates:
                if status.response is not None:
                    return status.response
        raise AssertionError("a task's updates ended before its answer")  # pragma: no cover

    async def arun_task(
        self,
        request: AgentRequest,
        *,
        poll_interval: float = 2.0,
        timeout: float | None = None,
        request_timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> AgentResponse:
        """Async form of :meth:`run_task` (cancelling it stops the run's session)."""
        updates = self.atask_updates(
            request,
            poll_interval=poll_interval,
            timeout=timeout,
            request_timeout=request_timeout,
            max_retries=max_retries,
        )
        async with aclosing(updates):
            async for status in updates:
                if status.response is not None:
                    return status.response
        raise AssertionError("a task's updates ended before its answer")  # pragma: no cover

    # -- connections -----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise InvalidRequestError(
                f"this {self._owner_name} is closed; create a new one to send more requests"
            )
        self._connections.check_fork()

    def _sync_http(self) -> httpx.Client:
        """The sync pool (created on first use)."""
        return self._connections.sync()

    def _async_pools(self) -> AsyncPools:
        """This event loop's async pools (created on first use, closed with the loop)."""
        return self._connections.async_pools()

    def close(self) -> None:
        """Close the pooled sync connections this client created (idempotent). Stop requests
        still in flight are given their time (at most 2 s) first."""
        self._closed = True
        if self._stopper is not None:
            self._stopper.close()
        self._finalizer()  # closes the connections, once

    async def aclose(self) -> None:
        """Close the sync pool and the async pool of the running loop (idempotent)."""
        self.close()
        await self._connections.aclose()

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            "LyzrClient holds open connections and cannot be pickled; pickle the ChatLyzr / "
            "LyzrLLM model (it rebuilds its client) or create a client in each process"
        )


class _ChatSpan(Protocol):
    """What ``traced_call`` yields: where the one-shot answer is reported (a no-op untraced)."""

    def response(self, response: AgentResponse, /) -> None: ...


def with_extra_body(http: HttpRequest, request: AgentRequest) -> HttpRequest:
    """``http`` with the request's ``extra_body`` added to its JSON body: the one place extra
    fields join a body, for every dialect. A key the dialect's body already holds is refused
    (named), never overwritten."""
    extra = request.extra_body
    if not extra:
        return http
    if not isinstance(http.json, dict):
        raise InvalidRequestError("extra_body needs a dialect whose requests carry a JSON body")
    taken = sorted(set(extra) & set(http.json))
    if taken:
        raise InvalidRequestError(
            f"extra_body {taken} would overwrite what lyzr-stream sends; pass those as their "
            "own arguments"
        )
    return replace(http, json={**http.json, **extra})


def _chat_parser(call: AgentCall, span: _ChatSpan) -> Callable[[bytes], AgentResponse]:
    """How a one-shot answer body becomes the response (reported to the call's span)."""

    def parse(body: bytes) -> AgentResponse:
        response = call.settings.dialect.parse_chat(body, call.request)
        span.response(response)
        return response

    return parse


# -- background tasks ----------------------------------------------------------------------------
def _created_parser(call: AgentCall) -> Callable[[bytes], TaskInfo]:
    """How a create answer becomes the task's info (with the session the run uses)."""
    return lambda body: parse_created_task(body, call.session_id)


class _TaskRun:
    """The waiting rule of one task run, for the sync and async loops alike: when to poll
    next, when to give up (``timeout``: the task keeps running), what ends it, and whether
    leaving now should stop the run's session."""

    __slots__ = ("_deadline", "_ended", "_interval", "_secrets", "_timeout", "task_id")

    def __init__(self, call: AgentCall, poll_interval: float, timeout: float | None) -> None:
        self._interval = poll_interval
        self._timeout = timeout
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._secrets = call.settings.secrets
        #: Ended on the service (completed, failed) or left running on purpose (the timeout).
        self._ended = False
        self.task_id: str | None = None

    def created(self, task_id: str) -> None:
        self.task_id = task_id

    def next_delay(self) -> float:
        """Seconds until the next poll; past the timeout, the timeout error (the last poll
        happens at the deadline)."""
        if self._deadline is None:
            return self._interval
        left = self._deadline - time.monotonic()
        if left <= 0:
            self._ended = True  # left running on purpose: no stop
            error = APITimeoutError(
                f"the background task {self.task_id} was still running after {self._timeout} s;"
                f" it goes on: resume with get_task({self.task_id!r})",
                kind="task",
                task_id=self.task_id,
            )
            error.may_have_run = True
            raise error
        return min(self._interval, left)

    def check(self, status: TaskStatus) -> None:
        """A poll's status: a failed task raises ``TaskFailedError``."""
        if not status.done:
            return
        self._ended = True
        if status.failed:
            reason = status.error or "the service gave no reason"
            raise redacted(
                TaskFailedError(
                    f"agent error: the background task {status.task_id} failed: {reason}",
                    task_id=status.task_id,
                    reason=reason,
                ),
                self._secrets,
            )

    def should_stop(self, exc: BaseException) -> bool:
        """Whether leaving with ``exc`` asks the service to stop the run: not once it ended or
        was left running on purpose, nor when creating the task failed with an error (no task;
        ``_create_task`` stops a create that timed out itself)."""
        if self._ended:
            return False
        return self.task_id is not None or not isinstance(exc, LyzrError)
