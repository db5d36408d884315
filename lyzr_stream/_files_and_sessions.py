"""``LyzrClient``'s file upload and session methods (the I/O around
:mod:`lyzr_stream._routes.assets` and :mod:`lyzr_stream._routes.sessions`).

They are a mixin of :class:`~lyzr_stream.LyzrClient` so that they share its connection pools,
key, base URL, default headers, timeouts, retry policy and typed errors: each is one request sent
and read the way a one-shot chat is (same retries, same answer size cap ``max_event_bytes``), and
an error status becomes the same :class:`~lyzr_stream._errors.APIStatusError` subclass as anywhere
else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ._errors import InvalidRequestError, LyzrError
from ._http.limits import NOT_GIVEN, RetryPolicy, TimeoutLike, Timeouts
from ._http.send import Deadline, build_request, retry_step
from ._routes.assets import DEFAULT_MAX_ASSET_BYTES, Asset, FileInput, upload_call
from ._routes.route import ApiCall
from ._routes.sessions import (
    SessionInfo,
    SessionMessage,
    create_session_call,
    delete_session_call,
    history_call,
    sessions_call,
)
from .dialects._base import HttpRequest

if TYPE_CHECKING:
    from ._http.pools import AsyncPools
    from ._settings import ClientSettings

__all__ = ["FilesAndSessionsAPI"]

T = TypeVar("T")

#: Dialects whose service has Lyzr's asset and session routes.
_LYZR_DIALECTS = frozenset({"lyzr-v3"})

#: What :meth:`FilesAndSessionsAPI._send_retrying` takes: the request, its absolute URL, its
#: timeouts and retry policy, its body and its deadline.
_Prepared = tuple[HttpRequest, str, Timeouts, RetryPolicy, bytes, Deadline]


class _Attempts:
    """The retry rule of one non-streamed request, for the sync and the async loop alike."""

    __slots__ = ("_deadline", "_failed", "_number", "_policy", "_then_raise")

    def __init__(self, policy: RetryPolicy, deadline: Deadline) -> None:
        self._policy, self._deadline = policy, deadline
        self._number = 0
        self._failed: LyzrError | None = None
        self._then_raise: LyzrError | None = None

    def begin(self) -> None:
        """Before each attempt: raise the total timeout if the last wait used it up."""
        if self._then_raise is not None:
            raise self._then_raise from self._failed
        self._number += 1

    def delay_after(self, error: LyzrError) -> float:
        """The wait before the next attempt; raises ``error`` when it is not retried."""
        step = retry_step(self._policy, self._number, error, self._deadline)
        if step is None:
            raise error
        self._failed, self._then_raise = error, step.then_raise
        return step.delay


class FilesAndSessionsAPI:
    """Uploads and session memory; mixed into :class:`~lyzr_stream.LyzrClient`."""

    #: Largest file :meth:`upload_assets` sends (bytes); set it on a client to change the cap.
    max_asset_bytes: int = DEFAULT_MAX_ASSET_BYTES

    if TYPE_CHECKING:
        settings: ClientSettings

        def _check_open(self) -> None: ...
        def _sync_http(self) -> httpx.Client: ...
        def _async_pools(self) -> AsyncPools: ...
        def _with_defaults(self, http_request: HttpRequest) -> HttpRequest: ...
        def _url(self, path: str) -> str: ...
        def _chat_once(
            self, http: httpx.Client, request: httpx.Request, deadline: Deadline
        ) -> bytes: ...
        async def _achat_once(
            self, http: httpx.AsyncClient, request: httpx.Request, deadline: Deadline
        ) -> bytes: ...

    # -- uploads -----------------------------------------------------------------------------
    def _upload_call(
        self, files: Sequence[FileInput] | FileInput, max_bytes: int | None
    ) -> ApiCall[list[Asset]]:
        return upload_call(files, self.max_asset_bytes if max_bytes is None else max_bytes)

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
        ``(name, bytes, mime_type)`` or an :class:`~lyzr_stream._routes.assets.UploadFile`. Checked
        before sending: PDF, DOCX, PPTX, XLSX, XLS, JPEG or PNG, not empty, at most
        ``max_bytes`` (default :attr:`max_asset_bytes`, 10 MiB), else ``InvalidRequestError``.
        All files go in one request; if the service refuses any, :class:`AssetUploadError`
        names each refused file (and lists those that did upload).
        """
        return self._call(self._upload_call(files, max_bytes), timeout, max_retries)

    async def aupload_assets(
        self,
        files: Sequence[FileInput] | FileInput,
        *,
        max_bytes: int | None = None,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[Asset]:
        """Async form of :meth:`upload_assets`."""
        return await self._acall(self._upload_call(files, max_bytes), timeout, max_retries)

    # -- sessions ----------------------------------------------------------------------------
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
        return self._call(history_call(session_id, agent_id), timeout, max_retries)

    async def asession_history(
        self,
        session_id: str,
        *,
        agent_id: str | None = None,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[SessionMessage]:
        """Async form of :meth:`session_history`."""
        return await self._acall(history_call(session_id, agent_id), timeout, max_retries)

    def list_sessions(
        self,
        agent_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[SessionInfo]:
        """The agent's sessions (``GET /v1/agent/{agent_id}/sessions``)."""
        return self._call(sessions_call(agent_id), timeout, max_retries)

    async def alist_sessions(
        self,
        agent_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> list[SessionInfo]:
        """Async form of :meth:`list_sessions`."""
        return await self._acall(sessions_call(agent_id), timeout, max_retries)

    def _create_call(
        self, agent_id: str, user_id: str | None, metadata: Mapping[str, Any] | None
    ) -> ApiCall[str]:
        return create_session_call(agent_id, user_id or self.settings.user_id, metadata)

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
        return self._call(self._create_call(agent_id, user_id, metadata), timeout, max_retries)

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
        call = self._create_call(agent_id, user_id, metadata)
        return await self._acall(call, timeout, max_retries)

    def delete_session(
        self,
        session_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> None:
        """Delete the session and its memory (``DELETE /v1/sessions/{session_id}``)."""
        self._call(delete_session_call(session_id), timeout, max_retries)

    async def adelete_session(
        self,
        session_id: str,
        *,
        timeout: TimeoutLike = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> None:
        """Async form of :meth:`delete_session`."""
        await self._acall(delete_session_call(session_id), timeout, max_retries)

    # -- one request, retried like a one-shot chat ---------------------------------------------
    def _prepared(
        self, call: ApiCall[Any], timeout: TimeoutLike, max_retries: int | None
    ) -> _Prepared:
        """What to send, checked (the client open, a dialect with these routes), with its
        timeouts, retry policy and a deadline that starts now."""
        self._check_open()
        settings = self.settings
        name = settings.dialect.name
        if name not in _LYZR_DIALECTS:
            raise InvalidRequestError(
                f"file uploads and session memory are Lyzr API routes; the {name!r} dialect's "
                "service has none (use dialect='lyzr-v3')"
            )
        http_request = self._with_defaults(call.http_request(settings.api_key))
        timeouts, retry = settings.call_limits(timeout, max_retries)
        url = self._url(call.path)
        return http_request, url, timeouts, retry, call.content, Deadline(timeouts.total)

    def _call(self, call: ApiCall[T], timeout: TimeoutLike, max_retries: int | None) -> T:
        return call.parse(self._send_retrying(*self._prepared(call, timeout, max_retries)))

    async def _acall(
        self, call: ApiCall[T], timeout: TimeoutLike, max_retries: int | None
    ) -> T:
        prepared = self._prepared(call, timeout, max_retries)
        return call.parse(await self._asend_retrying(*prepared))

    def _send_retrying(
        self,
        http_request: HttpRequest,
        url: str,
        timeouts: Timeouts,
        retry: RetryPolicy,
        content: bytes,
        deadline: Deadline,
    ) -> bytes:
        """One non-streamed request, retried as the policy says; the body of its answer. The
        one loop behind ``chat`` and the file and session calls (the rule: :class:`_Attempts`)."""
        attempts = _Attempts(retry, deadline)
        while True:
            attempts.begin()
            try:
                http = self._sync_http()
                built = build_request(http, http_request, url, timeouts, content, deadline)
                return self._chat_once(http, built, deadline)
            except LyzrError as error:
                delay = attempts.delay_after(error)
            time.sleep(delay)

    async def _asend_retrying(
        self,
        http_request: HttpRequest,
        url: str,
        timeouts: Timeouts,
        retry: RetryPolicy,
        content: bytes,
        deadline: Deadline,
    ) -> bytes:
        """Async form of :meth:`_send_retrying` (a connection shard held per attempt)."""
        attempts = _Attempts(retry, deadline)
        while True:
            attempts.begin()
            pools = self._async_pools()
            http, shard = pools.acquire()
            try:
                built = build_request(http, http_request, url, timeouts, content, deadline)
                return await self._achat_once(http, built, deadline)
            except LyzrError as error:
                delay = attempts.delay_after(error)
            finally:
                pools.release(shard)
            await asyncio.sleep(delay)
