"""``LyzrClient``: one object with sync and async methods over pooled HTTP connections."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from ._agent_stop import AgentStopper
from ._call_plan import CallPlan
from ._errors import APIResponseValidationError, InvalidRequestError, LyzrError, excerpt
from ._events_channel import AgentEventsSettings
from ._events_channel import attach_async as _attach_agent_events_async
from ._events_channel import attach_sync as _attach_agent_events
from ._files_and_sessions import FilesAndSessionsAPI
from ._http.connections import AsyncClosingContext, ClosingContext
from ._http.limits import (
    DEFAULT_EVENTS_CONNECT_TIMEOUT,
    DEFAULT_EVENTS_GRACE,
    DEFAULT_TIMEOUTS,
    NOT_GIVEN,
    TimeoutLike,
)
from ._http.pools import AsyncPools, shard_plan
from ._http.send import (
    ERROR_BODY_LIMIT,
    Deadline,
    aclose_if_overlong,
    check_redirect,
    close_if_overlong,
    encode_body,
    injected_proxy,
    logger,
    map_transport_error,
    status_error,
)
from ._request import AgentRequest
from ._settings import ClientSettings, check_proxy_hop
from ._stream import AsyncEventStream, EventStream, aread_capped, read_capped
from ._telemetry import instrument_async_stream, instrument_stream, traced_call
from ._version import __version__
from .dialects._base import Credentials
from .dialects._sse import DEFAULT_MAX_EVENT_BYTES

if TYPE_CHECKING:
    from typing import TypeVar

    from pydantic import SecretStr

    from ._response import AgentResponse
    from .dialects import Dialect
    from .dialects._base import HttpRequest

    _AnyStream = TypeVar("_AnyStream", EventStream, AsyncEventStream)


__all__ = ["LyzrClient", "new_session_id"]

_USER_AGENT = f"lyzr-stream/{__version__}"
#: Far above any real need; a larger number only makes httpcore's pool bookkeeping slower.
_MAX_CONNECTIONS = 100_000


def new_session_id(agent_id: str) -> str:
    """A fresh session id in the service's own style: ``<agent id>-<random>``."""
    return f"{agent_id}-{uuid.uuid4().hex[:12]}"


class LyzrClient(FilesAndSessionsAPI, ClosingContext, AsyncClosingContext):
    """A client for one agent service (Lyzr v3 by default; other wire formats via ``dialect``).

    Connections are pooled: the ``httpx.Client`` and ``httpx.AsyncClient`` are created on first
    use and reused by every call. An async pool is kept per event loop, so ``asyncio.run`` called
    several times works. After ``os.fork()`` the child builds its own pools. Pass
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
            between chunks, total).
        max_retries: retries before anything was delivered (default 2).
        coalesce: merge text deltas that arrive in the same network read (default True).
        max_event_bytes: cap on a single stream event (default 8 MiB).
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
            stops spending credits (Lyzr v3; best effort, bounded to 2 s, never raises).
        agent_events: merge the agent's events channel (Lyzr v3: server-side tool calls,
            reasoning, progress) into streams; else ``LYZR_AGENT_EVENTS=1``. Off by default.
        events_url: the channel's ``ws(s)://`` base URL; else ``LYZR_EVENTS_URL``, else
            ``wss://metrics.studio.lyzr.ai``.
        events_connect_timeout: the most the channel may delay a stream's request (seconds).
        events_grace: how long the channel stays open for late events after the answer.

    Files and sessions (Lyzr v3 only): :meth:`upload_assets`, :meth:`session_history`,
    :meth:`list_sessions`, :meth:`create_session`, :meth:`delete_session` and their ``a``-prefixed
    async forms (see :class:`~lyzr_stream._files_and_sessions.FilesAndSessionsAPI`).
    """

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
        events_connect_timeout: float = DEFAULT_EVENTS_CONNECT_TIMEOUT,
        events_grace: float = DEFAULT_EVENTS_GRACE,
        trust_env: bool = True,
        proxy: str | None = None,
        stop_on_exit: bool = True,
    ) -> None:
        if (
            isinstance(max_connections, bool)
            or not isinstance(max_connections, int)
            or not 1 <= max_connections <= _MAX_CONNECTIONS
        ):
            raise InvalidRequestError(
                f"max_connections must be an integer from 1 to {_MAX_CONNECTIONS}, "
                f"got {max_connections!r}"
            )
        self.settings = ClientSettings.resolve(
            api_key=api_key,
            base_url=base_url,
            user_id=user_id,
            dialect=dialect,
            dialect_options=dialect_options,
            timeout=timeout,
            max_retries=max_retries,
            coalesce=coalesce,
            max_event_bytes=max_event_bytes,
            cookies=cookies,
            verify=verify,
            allow_insecure_http=allow_insecure_http,
            default_headers=default_headers,
            trust_env=trust_env,
            proxy=proxy,
            stop_on_exit=stop_on_exit,
        )
        for given in (http_client, async_http_client):
            if given is not None:
                check_proxy_hop(
                    self.settings.base_url,
                    injected_proxy(given, self.settings.base_url),
                    allow_insecure_http or self.settings.api_key is None,
                )
        self._credentials = Credentials(self.settings.api_key, self.settings.cookies)
        self._secrets = _secrets_of(self.settings)
        self._stopper = (
            AgentStopper(
                self._stop_request,
                self._url,
                self._new_sync_client if http_client is None else lambda: http_client,
                owns_http=http_client is None,
            )
            if self.settings.stop_on_exit
            else None
        )
        self.agent_events = AgentEventsSettings.resolve(
            agent_events,
            events_url,
            dialect=self.settings.dialect.name,
            allow_insecure_http=allow_insecure_http,
            connect_timeout=events_connect_timeout,
            grace=events_grace,
        )
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        shards, per_shard = shard_plan(max_connections)
        self._shards = shards
        self._shard_limits = httpx.Limits(
            max_connections=per_shard, max_keepalive_connections=per_shard
        )
        self._own_sync = http_client is None
        self._own_async = async_http_client is None
        self._sync: httpx.Client | None = http_client
        self._injected_async = (
            None if async_http_client is None else AsyncPools.of(async_http_client)
        )
        self._async: dict[asyncio.AbstractEventLoop, AsyncPools] = {}
        self._pid = os.getpid()
        self._ssl: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        s = self.settings
        return f"LyzrClient(base_url={s.base_url!r}, dialect={s.dialect.name!r})"

    # -- requests ----------------------------------------------------------------------------
    def new_session_id(self, agent_id: str) -> str:
        """A fresh session id in the form the dialect's service expects."""
        return self.settings.dialect.new_session_id(agent_id)

    def prepare(self, request: AgentRequest) -> AgentRequest:
        """Fill in the default user id and a fresh session id, and check the dialect accepts it.

        A request without ``session_id`` starts a new conversation each call; keep the id from
        the response (``AgentResponse.session_id``, ``EventStream.session_id``) to continue it.
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

    def _with_defaults(self, http_request: HttpRequest) -> HttpRequest:
        """Add ``default_headers``; the dialect's own headers (auth, content type) win."""
        if not self.settings.default_headers:
            return http_request
        headers = {**self.settings.default_headers, **http_request.headers}
        return replace(http_request, headers=headers)

    def _url(self, path: str) -> str:
        return self.settings.base_url + path

    def _stop_request(self, session_id: str) -> HttpRequest | None:
        stop = self.settings.dialect.stop_request(session_id, self._credentials)
        return None if stop is None else self._with_defaults(stop)

    def _plan(
        self,
        request: AgentRequest,
        build: Callable[[AgentRequest, Credentials], HttpRequest],
        timeout: TimeoutLike,
        max_retries: int | None,
    ) -> CallPlan:
        """The one place a call is prepared, for streams and one-shot chats alike."""
        self._check_open()
        request = self.prepare(request)
        settings = self.settings
        try:
            http_request = self._with_defaults(build(request, self._credentials))
        except UnicodeEncodeError:
            # Text that cannot be encoded is the caller's error, not a raw UnicodeEncodeError
            # from deep inside the URL or JSON encoder.
            raise InvalidRequestError(
                "the request holds text that is not valid Unicode (a lone surrogate, often left by"
                " a broken decode) in an id, the message or a variable"
            ) from None
        timeouts, retry = settings.call_limits(timeout, max_retries)
        return CallPlan(
            settings=settings,
            request=request,
            http_request=http_request,
            url=self._url(http_request.path),
            content=encode_body(http_request),
            timeouts=timeouts,
            retry=retry,
            stopper=self._stopper,
            secrets=self._secrets,
        )

    def stream(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> EventStream:
        """Stream one turn. Iterate the result for events; the request goes out on first read."""
        plan = self._plan(request, self.settings.dialect.stream_request, timeout, max_retries)
        stream = EventStream(self._sync_http(), plan)
        return self._wired(stream, _attach_agent_events, instrument_stream)

    def astream(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> AsyncEventStream:
        """Async form of :meth:`stream` (``async for event in client.astream(req)``)."""
        plan = self._plan(request, self.settings.dialect.stream_request, timeout, max_retries)
        stream = AsyncEventStream(self._async_pools(), plan)
        return self._wired(stream, _attach_agent_events_async, instrument_async_stream)

    def _wired(
        self,
        stream: _AnyStream,
        attach_agent_events: Callable[[_AnyStream, AgentEventsSettings, SecretStr | None], None],
        instrument: Callable[[_AnyStream], None],
    ) -> _AnyStream:
        """The agent's events channel merged in (when on), then tracing around it all."""
        if self.agent_events is not None:
            attach_agent_events(stream, self.agent_events, self.settings.api_key)
        instrument(stream)
        return stream

    def chat(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> AgentResponse:
        """One turn, whole. Uses the dialect's one-shot endpoint, or reads a stream to its end."""
        if not self.settings.dialect.has_chat_endpoint:
            with self.stream(request, timeout=timeout, max_retries=max_retries) as events:
                return events.until_done()
        plan = self._plan(request, self.settings.dialect.chat_request, timeout, max_retries)
        deadline = Deadline(plan.timeouts.total)
        if plan.stopper is not None:
            plan.stopper.settle(plan.session_id)
        with traced_call(plan.settings, plan.request) as call:
            body = self._send_retrying(
                plan.http_request, plan.url, plan.timeouts, plan.retry, plan.content, deadline
            )
            return self._chat_result(body, plan, call)

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
        plan = self._plan(request, self.settings.dialect.chat_request, timeout, max_retries)
        deadline = Deadline(plan.timeouts.total)
        if plan.stopper is not None:
            await plan.stopper.asettle(plan.session_id)
        with traced_call(plan.settings, plan.request) as call:
            body = await self._asend_retrying(
                plan.http_request, plan.url, plan.timeouts, plan.retry, plan.content, deadline
            )
            return self._chat_result(body, plan, call)

    # The one-shot answer is read as a stream: bounded in size (``max_event_bytes`` for the
    # answer, ERROR_BODY_LIMIT for an error body) and in time (``total``), like the stream route.
    # The two methods only do the I/O; what to read and what it means is decided by
    # ``_body_limit`` and ``_answer``.
    def _chat_once(self, http: httpx.Client, request: httpx.Request, deadline: Deadline) -> bytes:
        response: httpx.Response | None = None
        try:
            response = http.send(request, stream=True)
            body = read_capped(response, self._body_limit(response), deadline)
            close_if_overlong(response)
            return self._answer(response, body)
        except httpx.HTTPError as exc:
            raise self._map(exc, deadline) from exc
        finally:
            if response is not None:
                response.close()

    async def _achat_once(
        self, http: httpx.AsyncClient, request: httpx.Request, deadline: Deadline
    ) -> bytes:
        response: httpx.Response | None = None
        try:
            response = await http.send(request, stream=True)
            body = await aread_capped(response, self._body_limit(response), deadline)
            await aclose_if_overlong(response)
            return self._answer(response, body)
        except httpx.HTTPError as exc:
            raise self._map(exc, deadline) from exc
        finally:
            if response is not None:
                await response.aclose()

    def _body_limit(self, response: httpx.Response) -> int:
        """How much of this answer's body to read (a redirect is refused before any)."""
        logger.debug("lyzr_stream: %s -> %d", response.request.url.path, response.status_code)
        if response.status_code >= 300:
            check_redirect(response)
            return ERROR_BODY_LIMIT
        return self.settings.max_event_bytes + 1

    def _answer(self, response: httpx.Response, body: bytes) -> bytes:
        """The answer's body, or the typed error for an error status or an oversized answer."""
        if response.status_code >= 300:
            raise status_error(response, body)
        if len(body) > self.settings.max_event_bytes:
            raise APIResponseValidationError(
                f"the answer exceeded max_event_bytes ({self.settings.max_event_bytes} bytes); "
                "raise max_event_bytes if answers this large are expected",
                body_excerpt=excerpt(body[:400]),
            )
        return body

    def _map(self, exc: httpx.HTTPError, deadline: Deadline) -> LyzrError:
        return map_transport_error(exc, in_body=False, deadline=deadline, secrets=self._secrets)

    @staticmethod
    def _chat_result(body: bytes, plan: CallPlan, call: _ChatSpan) -> AgentResponse:
        response = plan.settings.dialect.parse_chat(body, plan.request)
        call.response(response)
        return response

    # -- connection pools ----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise InvalidRequestError("this LyzrClient is closed")
        if os.getpid() != self._pid:
            # Forked: the parent's pools (sockets, locks) must not be shared with the child.
            self._pid = os.getpid()
            if self._own_sync:
                self._sync = None
            self._async = {}

    def _client_kwargs(
        self,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport,
        mounts: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "transport": transport,
            "mounts": mounts,
            "follow_redirects": False,
            "headers": {"user-agent": _USER_AGENT},
            "trust_env": self.settings.trust_env,
        }

    def _transport_kwargs(self, limits: httpx.Limits | None = None) -> dict[str, Any]:
        # TCP_NODELAY: a request goes out as head then body; with Nagle's algorithm the body
        # can wait for the server's delayed ACK (40 ms on Linux) before it is sent.
        return {
            "limits": limits or self._limits,
            "verify": self._ssl_context(),
            "trust_env": self.settings.trust_env,
            "socket_options": [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        }

    def _ssl_context(self) -> ssl.SSLContext:
        """One TLS context for every pool of this client: building one loads the CA bundle
        (about 0.1 s), which each new event loop's pools would otherwise pay again."""
        context = self._ssl
        if context is None:
            context = httpx.create_ssl_context(
                verify=self.settings.verify, trust_env=self.settings.trust_env
            )
            self._ssl = context
        return context

    def _sync_http(self) -> httpx.Client:
        client = self._sync
        if client is None:
            with self._lock:
                if self._sync is None:
                    self._sync = self._new_sync_client()
                client = self._sync
        return client

    def _new_sync_client(self, limits: httpx.Limits | None = None) -> httpx.Client:
        kwargs = self._transport_kwargs(limits)
        mounts = self.settings.proxies.mounts(lambda url: httpx.HTTPTransport(proxy=url, **kwargs))
        return httpx.Client(**self._client_kwargs(httpx.HTTPTransport(**kwargs), mounts))

    def _async_pools(self) -> AsyncPools:
        """This event loop's async pools (each loop has its own: connections are loop-bound).

        They are closed when their loop shuts down (``asyncio.run`` returning), so a long-lived
        client used by many ``asyncio.run`` calls keeps no sockets of the runs that ended.
        """
        if self._injected_async is not None:
            return self._injected_async
        loop = asyncio.get_running_loop()
        pools = self._async.get(loop)
        if pools is None:
            self._forget_closed_loops()
            pools = AsyncPools(self._new_async_client, self._shards)
            self._async[loop] = pools
            pools.close_with_loop(lambda: self._forget(loop))
        return pools

    def _forget(self, loop: asyncio.AbstractEventLoop) -> None:
        self._async.pop(loop, None)

    def _forget_closed_loops(self) -> None:
        """Drop pools of loops closed without shutting down their async generators (a loop
        closed by hand): their sockets cannot be closed from another loop; the garbage
        collector closes them once nothing holds the pools."""
        for old in [old for old in self._async if old.is_closed()]:
            self._async.pop(old, None)

    def _new_async_client(self) -> httpx.AsyncClient:
        kwargs = self._transport_kwargs(self._shard_limits)
        mounts = self.settings.proxies.mounts(
            lambda url: httpx.AsyncHTTPTransport(proxy=url, **kwargs)
        )
        transport = httpx.AsyncHTTPTransport(**kwargs)
        return httpx.AsyncClient(**self._client_kwargs(transport, mounts))

    def close(self) -> None:
        """Close the pooled sync connections this client created (idempotent). Stop requests
        still in flight are given their time (at most 2 s) first."""
        self._closed = True
        if self._stopper is not None:
            self._stopper.close()
        if self._own_sync and self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Close the sync pool and the async pool of the running loop (idempotent)."""
        self.close()
        if self._own_async:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # pragma: no cover - aclose is always awaited in a loop
                return
            pools = self._async.pop(loop, None)
            if pools is not None:
                await pools.aclose()
        elif self._injected_async is not None:
            await self._injected_async.wait_background()

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            "LyzrClient holds open connections and cannot be pickled; pickle the ChatLyzr / "
            "LyzrLLM model (it rebuilds its client) or create a client in each process"
        )


class _ChatSpan(Protocol):
    """What ``traced_call`` yields: where the one-shot answer is reported (a no-op untraced)."""

    def response(self, response: AgentResponse, /) -> None: ...


def _secrets_of(settings: ClientSettings) -> tuple[str, ...]:
    """What must never appear in an error message: the key and every default header value."""
    secrets = [settings.api_key.get_secret_value()] if settings.api_key is not None else []
    secrets.extend(settings.default_headers.values())
    secrets.extend(settings.cookies.values())
    return tuple(secrets)
