"""Stopping the agent when the caller leaves a stream before its end.

Closing the HTTP stream does not tell a Lyzr agent to stop: it runs to the end of its answer
and spends credits doing so (docs/wire.md, "Stopping a running agent"). When the caller leaves
a stream early -- ``break``, ``close()``, task cancellation, Ctrl-C, a stop sequence, a
client-side timeout -- the stream asks its :class:`AgentStopper` to send the dialect's stop
request (``POST /v3/inference/session/{session_id}/stop`` for Lyzr v3). Never after a normal
end or after the server itself ended the answer with an error.

Best effort: each stop is one :class:`~lyzr_stream._http.send.HttpCall` on the one request
path, bounded as a whole to :data:`STOP_TIMEOUT` seconds, never raises (failures are logged at
DEBUG) and never delays the caller:

- sync: the request goes out on a daemon thread; ``LyzrClient.close()`` and the interpreter's
  exit wait for stops still in flight, each at most its bound;
- async: a background task held by the loop's pools; ``LyzrClient.aclose()`` (and the loop's
  shutdown) wait for it, bounded, and cancel it cleanly after that. When the loop itself closes
  the stream (an abandoned stream's finalizer, or ``asyncio.run`` ending with a stream left
  unfinished), the stop goes out on a thread instead, as in sync code: the loop may end first.

A stop still in flight for a session is waited for (bounded) before the client sends that
session's next request: arriving late, it would stop the new answer instead of the old one.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import time
from collections.abc import Callable

import httpx

from ._http.limits import RetryPolicy, Timeouts
from ._http.pools import AsyncPools
from ._http.send import HttpCall, afetch, fetch, logger

__all__ = ["STOP_TIMEOUT", "AgentStopper"]

#: Seconds a stop request may take, all phases together.
STOP_TIMEOUT = 2.0
#: A stop's limits: the whole call within STOP_TIMEOUT, sent once (a stop is best effort).
STOP_TIMEOUTS = Timeouts(
    connect=STOP_TIMEOUT, read=STOP_TIMEOUT, write=STOP_TIMEOUT, pool=STOP_TIMEOUT,
    total=STOP_TIMEOUT,
)
STOP_RETRY = RetryPolicy(max_retries=0)
#: The most of a stop's answer that is read (it is only logged).
STOP_MAX_BODY = 4096

#: Stop threads still running, in every client (joined, bounded, at interpreter exit).
_THREADS: set[threading.Thread] = set()
_THREADS_LOCK = threading.Lock()


def _join(threads: set[threading.Thread], within: float) -> None:
    until = time.monotonic() + within
    for thread in list(threads):
        thread.join(max(0.0, until - time.monotonic()))


def _wait_at_exit() -> None:  # pragma: no cover - runs at interpreter exit
    with _THREADS_LOCK:
        threads = set(_THREADS)
    _join(threads, STOP_TIMEOUT)


_EXIT_HOOK = threading.Event()


def _wait_at_exit_from_now() -> None:
    """Registered at the first stop, not at import: exit handlers run last-registered first,
    so the stops in flight are waited for before the clients' finalizers (registered with
    the first client, earlier) close the connections they use."""
    if not _EXIT_HOOK.is_set():
        with _THREADS_LOCK:
            if not _EXIT_HOOK.is_set():
                atexit.register(_wait_at_exit)
                _EXIT_HOOK.set()


# Best effort: the outcome is only logged, at DEBUG, for the sync and async sends alike.
def _sent(session_id: str) -> None:
    logger.debug("lyzr_stream: stop for session %s sent", session_id)


def _failed(session_id: str, exc: Exception) -> None:
    logger.debug("lyzr_stream: stop for session %s failed (%s)", session_id, type(exc).__name__)


class AgentStopper:
    """Sends stop requests for one client. ``call_for(session_id)`` builds the stop call (or
    None when the dialect has no stop endpoint); ``make_http()`` makes the sync httpx client
    stops go through (created on first use, apart from the caller's pool)."""

    def __init__(
        self,
        call_for: Callable[[str], HttpCall | None],
        make_http: Callable[[], httpx.Client],
        owns_http: bool = True,
    ) -> None:
        self._call_for = call_for
        self._make_http = make_http
        self._owns_http = owns_http
        self._http: httpx.Client | None = None
        self._threads: set[threading.Thread] = set()
        self._by_session: dict[str, threading.Thread | asyncio.Task[None]] = {}
        self._lock = threading.Lock()

    def settle(self, session_id: str) -> None:
        """Wait (at most STOP_TIMEOUT) for a sync stop of this session still in flight."""
        pending = self._by_session.get(session_id)
        if isinstance(pending, threading.Thread) and pending is not threading.current_thread():
            pending.join(STOP_TIMEOUT)

    async def asettle(self, session_id: str) -> None:
        """Wait (at most STOP_TIMEOUT) for a stop of this session still in flight."""
        pending = self._by_session.get(session_id)
        if isinstance(pending, threading.Thread):
            await asyncio.to_thread(pending.join, STOP_TIMEOUT)
        elif (
            pending is not None
            and not pending.done()
            and pending.get_loop() is asyncio.get_running_loop()
        ):
            await asyncio.wait((pending,), timeout=STOP_TIMEOUT)

    def _forget(self, session_id: str, pending: object) -> None:
        with self._lock:
            if self._by_session.get(session_id) is pending:
                del self._by_session[session_id]

    def _sync_http(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = self._make_http()
            return self._http

    def _prepare(self, session_id: str) -> HttpCall | None:
        try:
            return self._call_for(session_id)
        except Exception as exc:
            logger.debug("lyzr_stream: no stop request for session %s (%s)", session_id, exc)
            return None

    # -- sync: a daemon thread -----------------------------------------------------------------
    def stop(self, session_id: str) -> None:
        """Send the stop request on a daemon thread; returns at once."""
        call = self._prepare(session_id)
        if call is None:
            return
        _wait_at_exit_from_now()
        thread = threading.Thread(
            target=self._send, args=(session_id, call), name="lyzr-agent-stop", daemon=True
        )
        with self._lock, _THREADS_LOCK:
            self._threads.add(thread)
            _THREADS.add(thread)
            self._by_session[session_id] = thread
        thread.start()

    def _send(self, session_id: str, call: HttpCall) -> None:
        try:
            fetch(self._sync_http(), call, len)
            _sent(session_id)
        except Exception as exc:
            _failed(session_id, exc)
        finally:
            current = threading.current_thread()
            with self._lock, _THREADS_LOCK:
                self._threads.discard(current)
                _THREADS.discard(current)
            self._forget(session_id, current)

    def close(self) -> None:
        """Wait for this client's stops still in flight (bounded by STOP_TIMEOUT), then close
        the client they went through."""
        with self._lock:
            threads = set(self._threads)
        _join(threads, STOP_TIMEOUT)
        with self._lock:
            http, self._http = self._http, None
        if http is not None and self._owns_http:
            http.close()

    # -- async: a background task --------------------------------------------------------------
    def astop(self, pools: AsyncPools, session_id: str) -> None:
        """Send the stop request from a background task of the running loop; returns at once.

        From a thread instead when the loop itself is closing the stream: a stream left
        unfinished and dropped (the loop's async-generator finalizer), or still open when
        ``asyncio.run`` ends (its ``shutdown_asyncgens``). The loop may end right after: a
        request begun in it would race that end (and asyncio warns about every async generator
        httpx starts once its shutdown began)."""
        if _closed_by_the_loop():
            self.stop(session_id)
            return
        call = self._prepare(session_id)
        if call is None:
            return

        async def send() -> None:
            try:
                await afetch(pools.aside(), call, len)
                _sent(session_id)
            except Exception as exc:
                _failed(session_id, exc)

        try:
            task = pools.run_in_background(send)
        except RuntimeError:  # the loop is closing: nothing can be sent any more
            logger.debug("lyzr_stream: stop for session %s not sent (loop closing)", session_id)
            return
        with self._lock:
            self._by_session[session_id] = task
        task.add_done_callback(lambda done: self._forget(session_id, done))


def _closed_by_the_loop() -> bool:
    """Whether the running task is the loop closing an async generator itself: its
    finalizer hook and ``shutdown_asyncgens`` run ``agen.aclose()`` as a task of its own (the
    task's coroutine is then the ``aclose()`` awaitable, not a coroutine of the caller), or
    the loop's shutdown has begun."""
    loop = asyncio.get_running_loop()
    if getattr(loop, "_asyncgens_shutdown_called", False):
        return True
    task = asyncio.current_task(loop)
    return task is not None and type(task.get_coro()).__name__ == "async_generator_athrow"
