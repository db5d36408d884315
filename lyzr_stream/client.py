"""``LyzrClient``: one object with sync and async methods over pooled HTTP connections."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any

import httpx
from pydantic import SecretStr

from ._version import __version__
from .dialects import Dialect
from .dialects.base import Credentials, HttpRequest
from .errors import InvalidRequestError, LyzrError
from .events import ToolCallRequest
from .events_channel import DEFAULT_CONNECT_TIMEOUT, DEFAULT_GRACE, AgentEventsSettings
from .events_channel import attach_async as _attach_agent_events_async
from .events_channel import attach_sync as _attach_agent_events
from .local_tools import check_tool_names
from .pools import AsyncPools, shard_plan
from .request import AgentRequest
from .response import AgentResponse
from .retry import RetryPolicy
from .settings import ClientSettings
from .sse import DEFAULT_MAX_EVENT_BYTES
from .stream import AsyncEventStream, EventStream
from .timeouts import DEFAULT_TIMEOUTS, TimeoutLike, Timeouts
from .transport import (
    Deadline,
    build_request,
    check_redirect,
    encode_body,
    log_retry,
    logger,
    map_transport_error,
    status_error,
)

__all__ = ["LyzrClient", "new_session_id"]

_USER_AGENT = f"lyzr-stream/{__version__}"
_NOT_GIVEN: Any = object()


def new_session_id(agent_id: str) -> str:
    """A fresh session id in the service's own style: ``<agent id>-<random>``."""
    return f"{agent_id}-{uuid.uuid4().hex[:12]}"


class LyzrClient:
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
        allow_insecure_http: permit sending credentials over ``http://`` to non-loopback hosts.
        default_headers: extra headers sent with every request (a proxy's, a tracing id).
        agent_events: merge the agent's events channel (Lyzr v3: server-side tool calls,
            reasoning, progress) into streams; else ``LYZR_AGENT_EVENTS=1``. Off by default.
        events_url: the channel's ``ws(s)://`` base URL; else ``LYZR_EVENTS_URL``, else
            ``wss://metrics.studio.lyzr.ai``.
        events_connect_timeout: the most the channel may delay a stream's request (seconds).
        events_grace: how long the channel stays open for late events after the answer.
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
        events_connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        events_grace: float = DEFAULT_GRACE,
    ) -> None:
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
        )
        self._credentials = Credentials(self.settings.api_key, self.settings.cookies)
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
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncPools] = (
            weakref.WeakKeyDictionary()
        )
        self._pid = os.getpid()
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

    def _policy(
        self, timeout: TimeoutLike | object, max_retries: int | None
    ) -> tuple[Timeouts, RetryPolicy]:
        timeouts = (
            self.settings.timeouts
            if timeout is _NOT_GIVEN
            else Timeouts.coerce(
                timeout  # type: ignore[arg-type]
            )
        )
        retry = self.settings.retry if max_retries is None else RetryPolicy(max_retries)
        return timeouts, retry

    def _stream_args(
        self, request: AgentRequest, timeout: object, max_retries: int | None
    ) -> tuple[Any, ...]:
        self._check_open()
        request = self.prepare(request)
        http_request = self._with_defaults(
            self.settings.dialect.stream_request(request, self._credentials)
        )
        timeouts, retry = self._policy(timeout, max_retries)
        url = self.settings.base_url + http_request.path
        return (self.settings, request, http_request, url, timeouts, retry)

    def stream(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = _NOT_GIVEN,
        max_retries: int | None = None,
    ) -> EventStream:
        """Stream one turn. Iterate the result for events; the request goes out on first read."""
        args = self._stream_args(request, timeout, max_retries)
        stream = EventStream(self._sync_http(), *args)
        if self.agent_events is not None:
            _attach_agent_events(stream, self.agent_events, self.settings.api_key)
        return stream

    def astream(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = _NOT_GIVEN,
        max_retries: int | None = None,
    ) -> AsyncEventStream:
        """Async form of :meth:`stream` (``async for event in client.astream(req)``)."""
        args = self._stream_args(request, timeout, max_retries)
        stream = AsyncEventStream(self._async_pools(), *args)
        if self.agent_events is not None:
            _attach_agent_events_async(stream, self.agent_events, self.settings.api_key)
        return stream

    def chat(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = _NOT_GIVEN,
        max_retries: int | None = None,
    ) -> AgentResponse:
        """One turn, whole. Uses the dialect's one-shot endpoint, or reads a stream to its end."""
        if not self.settings.dialect.has_chat_endpoint:
            with self.stream(request, timeout=timeout, max_retries=max_retries) as events:
                return events.until_done()
        request, http_request, url, timeouts, retry = self._chat_args(request, timeout, max_retries)
        deadline = Deadline(timeouts.total)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._chat_once(
                    self._sync_http(), request, http_request, url, timeouts, deadline
                )
            except LyzrError as error:
                delay = _chat_retry_delay(retry, attempt, error, deadline)
                if delay is None:
                    raise
                time.sleep(delay)

    async def achat(
        self,
        request: AgentRequest,
        *,
        timeout: TimeoutLike = _NOT_GIVEN,
        max_retries: int | None = None,
    ) -> AgentResponse:
        """Async form of :meth:`chat`."""
        if not self.settings.dialect.has_chat_endpoint:
            async with self.astream(request, timeout=timeout, max_retries=max_retries) as events:
                return await events.until_done()
        request, http_request, url, timeouts, retry = self._chat_args(request, timeout, max_retries)
        deadline = Deadline(timeouts.total)
        attempt = 0
        while True:
            attempt += 1
            pools = self._async_pools()
            http, shard = pools.acquire()
            try:
                return await self._achat_once(http, request, http_request, url, timeouts, deadline)
            except LyzrError as error:
                delay = _chat_retry_delay(retry, attempt, error, deadline)
                if delay is None:
                    raise
            finally:
                pools.release(shard)
            await asyncio.sleep(delay)

    def _chat_args(
        self, request: AgentRequest, timeout: object, max_retries: int | None
    ) -> tuple[AgentRequest, HttpRequest, str, Timeouts, RetryPolicy]:
        self._check_open()
        request = self.prepare(request)
        http_request = self._with_defaults(
            self.settings.dialect.chat_request(request, self._credentials)
        )
        timeouts, retry = self._policy(timeout, max_retries)
        return request, http_request, self.settings.base_url + http_request.path, timeouts, retry

    def _chat_once(
        self,
        http: httpx.Client,
        request: AgentRequest,
        http_request: HttpRequest,
        url: str,
        timeouts: Timeouts,
        deadline: Deadline,
    ) -> AgentResponse:
        try:
            response = http.send(
                build_request(http, http_request, url, timeouts, encode_body(http_request))
            )
        except httpx.HTTPError as exc:
            raise map_transport_error(exc, in_body=False, deadline=deadline) from exc
        return self._chat_result(response, request)

    async def _achat_once(
        self,
        http: httpx.AsyncClient,
        request: AgentRequest,
        http_request: HttpRequest,
        url: str,
        timeouts: Timeouts,
        deadline: Deadline,
    ) -> AgentResponse:
        try:
            response = await http.send(
                build_request(http, http_request, url, timeouts, encode_body(http_request))
            )
        except httpx.HTTPError as exc:
            raise map_transport_error(exc, in_body=False, deadline=deadline) from exc
        return self._chat_result(response, request)

    def _chat_result(self, response: httpx.Response, request: AgentRequest) -> AgentResponse:
        logger.debug("lyzr_stream: %s -> %d", response.request.url.path, response.status_code)
        if response.status_code >= 300:
            check_redirect(response)
            raise status_error(response, response.content)
        result = self.settings.dialect.parse_chat(response.content, request)
        if result.tool_calls:
            check_tool_names(ToolCallRequest(result.tool_calls), request.tools)
        return result

    # -- connection pools ----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise InvalidRequestError("this LyzrClient is closed")
        if os.getpid() != self._pid:
            # Forked: the parent's pools (sockets, locks) must not be shared with the child.
            self._pid = os.getpid()
            if self._own_sync:
                self._sync = None
            self._async = weakref.WeakKeyDictionary()

    def _client_kwargs(
        self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport
    ) -> dict[str, Any]:
        return {
            "transport": transport,
            "follow_redirects": False,
            "headers": {"user-agent": _USER_AGENT},
            "trust_env": True,
        }

    def _transport_kwargs(self, limits: httpx.Limits | None = None) -> dict[str, Any]:
        # TCP_NODELAY: a request goes out as head then body; with Nagle's algorithm the body
        # can wait for the server's delayed ACK (40 ms on Linux) before it is sent.
        return {
            "limits": limits or self._limits,
            "verify": self.settings.verify,
            "trust_env": True,
            "socket_options": [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        }

    def _sync_http(self) -> httpx.Client:
        client = self._sync
        if client is None:
            with self._lock:
                if self._sync is None:
                    transport = httpx.HTTPTransport(**self._transport_kwargs())
                    self._sync = httpx.Client(**self._client_kwargs(transport))
                client = self._sync
        return client

    def _async_pools(self) -> AsyncPools:
        """This event loop's async pools (each loop has its own: connections are loop-bound)."""
        if self._injected_async is not None:
            return self._injected_async
        loop = asyncio.get_running_loop()
        pools = self._async.get(loop)
        if pools is None:
            pools = AsyncPools(self._new_async_client, self._shards)
            self._async[loop] = pools
        return pools

    def _new_async_client(self) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(**self._transport_kwargs(self._shard_limits))
        return httpx.AsyncClient(**self._client_kwargs(transport))

    def close(self) -> None:
        """Close the pooled sync connections this client created (idempotent)."""
        self._closed = True
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

    def __enter__(self) -> LyzrClient:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> LyzrClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            "LyzrClient holds open connections and cannot be pickled; pickle the ChatLyzr / "
            "LyzrLLM model (it rebuilds its client) or create a client in each process"
        )


def _chat_retry_delay(
    retry: RetryPolicy, attempt: int, error: LyzrError, deadline: Deadline
) -> float | None:
    delay = retry.delay(attempt, error)
    remaining = deadline.remaining()
    if delay is None or (remaining is not None and delay >= remaining):
        return None
    log_retry(attempt, error, delay)
    return delay
