"""``LyzrClient``'s file upload and session methods (the I/O around :mod:`lyzr_stream._assets`
and :mod:`lyzr_stream._sessions`).

They are a mixin of :class:`~lyzr_stream.LyzrClient` so that they share its connection pools,
key, base URL, default headers, timeouts, retry policy and typed errors: each is one request sent
and read the way a one-shot chat is (same retries, same answer size cap ``max_event_bytes``), and
an error status becomes the same :class:`~lyzr_stream._errors.APIStatusError` subclass as anywhere
else.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ._assets import (
    DEFAULT_MAX_ASSET_BYTES,
    UPLOAD_PATH,
    Asset,
    FileInput,
    check_upload,
    multipart_body,
    parse_upload_response,
    to_upload_file,
)
from ._errors import InvalidRequestError, LyzrError
from ._retry import RetryPolicy
from ._sessions import (
    SessionInfo,
    SessionMessage,
    create_session_path,
    history_path,
    parse_created_session,
    parse_history,
    parse_sessions,
    session_path,
    sessions_path,
)
from ._timeouts import TimeoutLike, Timeouts
from ._transport import Deadline, build_request, retry_step
from .dialects._base import HttpRequest

if TYPE_CHECKING:
    from ._pools import AsyncPools
    from ._settings import ClientSettings

__all__ = ["FilesAndSessionsAPI"]

#: Dialects whose service has Lyzr's asset and session routes.
_LYZR_DIALECTS = frozenset({"lyzr-v3"})


@dataclass(frozen=True, slots=True)
class _ApiCall:
    """One request to a JSON (or multipart) route of the service."""

    method: str
    path: str
    content: bytes | None = None
    content_type: str | None = None


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
        def _chat_once(
            self, http: httpx.Client, request: httpx.Request, deadline: Deadline
        ) -> bytes: ...
        async def _achat_once(
            self, http: httpx.AsyncClient, request: httpx.Request, deadline: Deadline
        ) -> bytes: ...

    # -- uploads -----------------------------------------------------------------------------
    def _upload_call(
        self, files: Sequence[FileInput], max_bytes: int | None
    ) -> tuple[_ApiCall, list[Any]]:
        if isinstance(files, (str, bytes, tuple)) or not isinstance(files, Sequence):
            files = [files]
        prepared = [to_upload_file(f) for f in files]
        check_upload(prepared, self.max_asset_bytes if max_bytes is None else max_bytes)
        body, content_type = multipart_body(prepared)
        return _ApiCall("POST", UPLOAD_PATH, body, content_type), prepared

    def upload_assets(
        self,
        files: Sequence[FileInput] | FileInput,
        *,
        max_bytes: int | None = None,
        timeout: TimeoutLike | object = ...,
        max_retries: int | None = None,
    ) -> list[Asset]:
        """Upload files as Lyzr assets; pass the returned ``asset_id``\\ s in ``assets=[...]``.

        Each file is a path, a binary file object with a name, ``(name, bytes)``,
        ``(name, bytes, mime_type)`` or an :class:`~lyzr_stream._assets.UploadFile`. Checked
        before sending: PDF, DOCX, PPTX, XLSX, XLS, JPEG or PNG, not empty, at most
        ``max_bytes`` (default :attr:`max_asset_bytes`, 10 MiB), else ``InvalidRequestError``.
        All files go in one request; if the service refuses any, :class:`AssetUploadError`
        names each refused file (and lists those that did upload).
        """
        call, prepared = self._upload_call(files, max_bytes)  # type: ignore[arg-type]
        return parse_upload_response(self._send(call, timeout, max_retries), prepared)

    async def aupload_assets(
        self,
        files: Sequence[FileInput] | FileInput,
        *,
        max_bytes: int | None = None,
        timeout: TimeoutLike | object = ...,
        max_retries: int | None = None,
    ) -> list[Asset]:
        """Async form of :meth:`upload_assets`."""
        call, prepared = self._upload_call(files, max_bytes)  # type: ignore[arg-type]
        body = await self._asend(call, timeout, max_retries)
        return parse_upload_response(body, prepared)

    # -- sessions ----------------------------------------------------------------------------
    def session_history(
        self,
        session_id: str,
        *,
        agent_id: str | None = None,
        timeout: TimeoutLike | object = ...,
        max_retries: int | None = None,
    ) -> list[SessionMessage]:
        """The session's memory, oldest turn first (``GET /v1/sessions/{id}/history``; with
        ``agent_id``, the agent-scoped route). An unknown session reads as empty or raises
        ``NotFoundError``, as the service answers."""
        call = _ApiCall("GET", history_path(session_id, agent_id))
        return parse_history(self._send(call, timeout, max_retries))

    async def asession_history(
        self,
        session_id: str,
        *,
        agent_id: str | None = None,
        timeout: TimeoutLike | object = ...,
        max_retries: int | None = None,
    ) -> list[SessionMessage]:
        """Async form of :meth:`session_history`."""
        call = _ApiCall("GET", history_path(session_id, agent_id))
        return parse_history(await self._asend(call, timeout, max_retries))

    def list_sessions(
        self,
        agent_id: str,
        *,
        timeout: TimeoutLike | object = ...,
        max_retries: int | None = None,
    ) -> list[SessionInfo]:
        """The agent's sessions (``GET /v1/agent/{agent_id}/sessions``)."""
        call = _ApiCall("GET", sessions_path(agent_id))
        return parse_sessions(self._send(call, timeout, max_retries))

    async def alist_sessions(
        self,
        agent_id: str,
        *,
        timeout: TimeoutLike | object = ...,
        max_retries: int | None = None,
    ) -> list[SessionInfo]:
        """Async form of :meth:`list_sessions`."""
        call = _ApiCall("GET", sessions_path(agent_id))
        return parse_sessions(await self._asend(call, timeout, max_retries))

    def _create_call(
        self, agent_id: str, user_id: str | None, metadata: Mapping[str, Any] | None
    ) -> _ApiCall:
        body = {
            "user_id": user_id or self.settings.user_id,
            "agent_id": agent_id,
            "metadata": dict(metadata or {}),
        }
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return _ApiCall("POST", create_session_path(agent_id), content, "application/json")

    def create_session(
        self,
        agent_id: str,
        *,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: TimeoutLike | object = ...,
        max_retries: int | None = None,
    ) -> str:
        """Create a session on the service and return its id (``POST /v1/sessions/{agent}``).

        Not needed to chat: any new ``session_id`` starts a session. Use it to attach
        ``metadata`` (a title, say) the way the Studio web client does.
        """
        call = self._create_call(agent_id, user_id, metadata)
        return parse_created_session(self._send(call, timeout, max_retries))

    async def acreate_session(
        self,
        agent_id: str,
        *,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: TimeoutLike | object = ...,
        max_retries: int | None = None,
    ) -> str:
        """Async form of :meth:`create_session`."""
        call = self._create_call(agent_id, user_id, metadata)
        return parse_created_session(await self._asend(call, timeout, max_retries))

    def delete_session(
        self,
        session_id: str,
        *,
        timeout: TimeoutLike | object = ...,
        max_retries: int | None = None,
    ) -> None:
        """Delete the session and its memory (``DELETE /v1/sessions/{session_id}``)."""
        self._send(_ApiCall("DELETE", session_path(session_id)), timeout, max_retries)

    async def adelete_session(
        self,
        session_id: str,
        *,
        timeout: TimeoutLike | object = ...,
        max_retries: int | None = None,
    ) -> None:
        """Async form of :meth:`delete_session`."""
        await self._asend(_ApiCall("DELETE", session_path(session_id)), timeout, max_retries)

    # -- one request, retried like a one-shot chat ---------------------------------------------
    def _prepared(
        self, call: _ApiCall, timeout: object, max_retries: int | None
    ) -> tuple[HttpRequest, str, Timeouts, RetryPolicy]:
        self._check_open()
        settings = self.settings
        name = settings.dialect.name
        if name not in _LYZR_DIALECTS:
            raise InvalidRequestError(
                f"file uploads and session memory are Lyzr API routes; the {name!r} dialect's "
                "service has none (use dialect='lyzr-v3')"
            )
        headers = {"accept": "application/json"}
        if call.content_type is not None:
            headers["content-type"] = call.content_type
        if settings.api_key is not None:
            headers["x-api-key"] = settings.api_key.get_secret_value()
        http_request = self._with_defaults(HttpRequest(call.method, call.path, headers, {}))
        given: Any = timeout
        timeouts = settings.timeouts if given is ... else Timeouts.coerce(given)
        retry = settings.retry if max_retries is None else RetryPolicy(max_retries)
        return http_request, settings.base_url + call.path, timeouts, retry

    def _send(self, call: _ApiCall, timeout: object, max_retries: int | None) -> bytes:
        http_request, url, timeouts, retry = self._prepared(call, timeout, max_retries)
        deadline = Deadline(timeouts.total)
        content = call.content or b""
        return self._send_retrying(http_request, url, timeouts, retry, content, deadline)

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
        one loop behind ``chat`` and the file and session calls."""
        attempt = 0
        while True:
            attempt += 1
            try:
                http = self._sync_http()
                built = build_request(http, http_request, url, timeouts, content, deadline)
                return self._chat_once(http, built, deadline)
            except LyzrError as error:
                step = retry_step(retry, attempt, error, deadline)
                if step is None:
                    raise
                time.sleep(step.delay)
                if step.then_raise is not None:
                    raise step.then_raise from error

    async def _asend(self, call: _ApiCall, timeout: object, max_retries: int | None) -> bytes:
        http_request, url, timeouts, retry = self._prepared(call, timeout, max_retries)
        deadline = Deadline(timeouts.total)
        content = call.content or b""
        return await self._asend_retrying(http_request, url, timeouts, retry, content, deadline)

    async def _asend_retrying(
        self,
        http_request: HttpRequest,
        url: str,
        timeouts: Timeouts,
        retry: RetryPolicy,
        content: bytes,
        deadline: Deadline,
    ) -> bytes:
        """Async form of :meth:`_send_retrying`."""
        attempt = 0
        while True:
            attempt += 1
            pools = self._async_pools()
            http, shard = pools.acquire()
            try:
                built = build_request(http, http_request, url, timeouts, content, deadline)
                return await self._achat_once(http, built, deadline)
            except LyzrError as error:
                step = retry_step(retry, attempt, error, deadline)
                if step is None:
                    raise
                failed = error
            finally:
                pools.release(shard)
            await asyncio.sleep(step.delay)
            if step.then_raise is not None:
                raise step.then_raise from failed
