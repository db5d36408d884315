"""The Lyzr agent events channel: a WebSocket per session, merged into the answer's stream.

Off unless asked for (``agent_events=True`` or ``LYZR_AGENT_EVENTS=1``), Lyzr v3 only. Per streamed
turn: the socket ``{events_url}/ws/{session_id}?x-api-key=...`` is opened just before the stream
request (the service does not replay events to late subscribers), waiting at most
``connect_timeout`` for it; its messages (decoded by :mod:`lyzr_stream.dialects._agent_event_wire`)
are delivered in their order, interleaved with the answer's events; after the answer's
last text the socket stays open ``grace`` seconds for late events, which come before the final
:class:`StreamEnd`, then it is closed.

The answer never depends on this channel: a refused, failing, slow or garbled socket costs at
most ``connect_timeout`` before the request is sent, is logged once per client (the key
redacted), and the answer streams on without it.

How the two sources meet: the answer's iterator runs in a pump (a thread for the sync stream, a
task for the async one) feeding the answer's queue; the socket's reader (likewise) feeds a queue
of at most ``queue_size`` agent events (default 1000; when full the oldest is dropped, and the
final :class:`StreamEnd`'s metadata and the response's count the drops as
``agent_events_dropped``). The caller's iterator takes an agent event only when no answer event
waits. Bounds, however many agent events arrive: an answer event waits at most for the caller to
finish the event in hand; :class:`StreamEnd` follows the answer's last event within ``grace``
plus ``queue_size`` of the caller's per-event time (about 2 s by default at 1 ms per event).
Answer events are never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from pydantic import SecretStr

from ._errors import InvalidRequestError, check_int_in_range, scrub
from ._events import StreamEnd, StreamEvent
from ._settings import check_url
from .dialects._agent_event_wire import AgentEventDecoder, ChannelEvent

if TYPE_CHECKING:
    from ._http.pools import AsyncPools
    from ._stream import StreamState
    from .dialects._base import Dialect

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_EVENTS_URL",
    "DEFAULT_GRACE",
    "DEFAULT_QUEUE_SIZE",
    "DROPPED_KEY",
    "ENV_AGENT_EVENTS",
    "ENV_EVENTS_URL",
    "AgentEventsSettings",
    "merged_async_events",
    "merged_events",
]

ENV_AGENT_EVENTS = "LYZR_AGENT_EVENTS"
ENV_EVENTS_URL = "LYZR_EVENTS_URL"
DEFAULT_EVENTS_URL = "wss://metrics.studio.lyzr.ai"
#: The most the channel may delay a stream's request (seconds).
DEFAULT_CONNECT_TIMEOUT = 0.5
#: How long the channel stays open for late events after the answer (seconds).
DEFAULT_GRACE = 1.0
#: How many agent events may wait for the caller; beyond, the oldest are dropped and counted.
DEFAULT_QUEUE_SIZE = 1000
#: The metadata key (final ``StreamEnd``, ``AgentResponse.metadata``) counting dropped events.
DROPPED_KEY = "agent_events_dropped"
_MAX_QUEUE_SIZE = 1_000_000
_TRUE = frozenset({"1", "true", "yes", "on"})
#: A socket still connecting when the answer started may join late, within this bound.
_OPEN_LIMIT = 10.0
_CLOSE_TIMEOUT = 0.5
_MAX_MESSAGE = 8 * 1024 * 1024

logger = logging.getLogger("lyzr_stream")
# The websockets library logs the request line (with the key in its query) at DEBUG: its
# messages for our sockets go to a logger of their own that never emits.
_wire_logger = logging.getLogger("lyzr_stream._events_channel.wire")
_wire_logger.setLevel(logging.CRITICAL + 1)
_wire_logger.propagate = False

# What the answer's pump and the socket's reader put in the answer's queue: the answer's events
# as they are (the per-token path: nothing wrapped, nothing to unpack), anything else as a _Note.
# Agent events themselves wait in their own bounded queue (_AgentQueue).
_WAKE, _END, _ERROR, _DONE, _CLOSED = range(5)


class _Note:
    """An answer queue item that is not one of the answer's events: agent events are waiting
    (``_WAKE``), the answer's final :class:`StreamEnd` (``_END``, held back for late agent
    events), the answer's failure (``_ERROR``), its iterator's end (``_DONE``), the socket's end
    (``_CLOSED``)."""

    __slots__ = ("kind", "payload")

    def __init__(self, kind: int, payload: Any = None) -> None:
        self.kind, self.payload = kind, payload


_Item = StreamEvent | _Note
_CLOSED_NOTE = _Note(_CLOSED)
_DONE_NOTE = _Note(_DONE)
_WAKE_NOTE = _Note(_WAKE)


class _Notices:
    """Logs the channel's trouble at WARNING the first time per client, then at DEBUG."""

    __slots__ = ("_warned",)

    def __init__(self) -> None:
        self._warned = False

    def report(self, what: str) -> None:
        level = logging.DEBUG if self._warned else logging.WARNING
        self._warned = True
        logger.log(level, "lyzr_stream: agent events unavailable (%s); the answer goes on", what)


def _describe(exc: BaseException, secrets: tuple[str, ...]) -> str:
    """An exception as one line for the log, without the client's secrets (URLs, the key in
    their query, can appear in messages)."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    text = f"HTTP {status}" if isinstance(status, int) else f"{type(exc).__name__}: {exc}"
    return scrub(text, secrets)[:300]


def _env_enabled() -> bool:
    return os.environ.get(ENV_AGENT_EVENTS, "").strip().lower() in _TRUE


def _require_websockets() -> None:
    try:
        import websockets  # noqa: F401
    except ImportError:
        raise ImportError(
            "agent_events=True needs the websockets package: pip install 'lyzr-stream[events]'"
        ) from None


@dataclass(frozen=True, slots=True)
class AgentEventsSettings:
    """Where and how the events channel connects (resolved once per client). ``queue_size``:
    how many agent events may wait for a slow caller (the oldest beyond are dropped)."""

    url: str = DEFAULT_EVENTS_URL
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    grace: float = DEFAULT_GRACE
    queue_size: int = DEFAULT_QUEUE_SIZE
    notices: _Notices = field(default_factory=_Notices, repr=False, compare=False)

    @classmethod
    def resolve(
        cls,
        enabled: bool | None,
        url: str | None,
        *,
        dialect: Dialect,
        allow_insecure_http: bool = False,
        secrets: tuple[str, ...] = (),
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        grace: float = DEFAULT_GRACE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> AgentEventsSettings | None:
        """The settings, or None when the channel is off.

        ``enabled=None`` reads ``LYZR_AGENT_EVENTS``; the URL is ``url``, else
        ``LYZR_EVENTS_URL``, else ``wss://metrics.studio.lyzr.ai``. Asking for the channel
        with a dialect whose service has none (``Dialect.has_agent_events``) is an error; the
        environment variable is then ignored (it may be set for a whole process that also talks
        to other services).
        """
        if enabled is None:
            if not _env_enabled():
                return None
            if not dialect.has_agent_events:
                logger.debug(
                    "lyzr_stream: %s ignored for dialect %s", ENV_AGENT_EVENTS, dialect.name
                )
                return None
        elif not enabled:
            return None
        elif not dialect.has_agent_events:
            raise InvalidRequestError(
                f"agent_events needs a service with an events channel; the {dialect.name!r} "
                "dialect's has none (use dialect='lyzr-v3')"
            )
        for name, value, low in (("connect_timeout", connect_timeout, 0.0), ("grace", grace, -1)):
            if not isinstance(value, (int, float)) or not value > low or value > 60:
                raise InvalidRequestError(
                    f"agent events {name} must be a number of seconds up to 60, got {value!r}"
                )
        check_int_in_range("agent events queue_size", queue_size, 1, _MAX_QUEUE_SIZE)
        _require_websockets()
        chosen = url or os.environ.get(ENV_EVENTS_URL) or DEFAULT_EVENTS_URL
        checked = check_url(
            "events_url",
            chosen,
            schemes=("ws", "wss"),
            has_secret=True,
            allow_insecure_http=allow_insecure_http,
            secrets=secrets,
        )
        return cls(checked, float(connect_timeout), float(grace), queue_size)

    def endpoint(self, session_id: str, api_key: SecretStr | None) -> str:
        """The socket URL of a session, key included (never logged or shown)."""
        url = f"{self.url}/ws/{quote(session_id, safe='')}"
        if api_key is not None:
            url += "?" + urlencode({"x-api-key": api_key.get_secret_value()})
        return url


# -- what the sync and async forms share ---------------------------------------------------------
def _connect_options() -> dict[str, Any]:
    return {
        "open_timeout": _OPEN_LIMIT,
        "close_timeout": _CLOSE_TIMEOUT,
        "max_size": _MAX_MESSAGE,
        "logger": _wire_logger,
    }


#: The socket's URL (the key in its query) and the client's secrets (to scrub from log lines).
_Endpoint = tuple[str, tuple[str, ...]]


#: How an item goes into the answer's queue (``put`` of the sync queue, ``put_nowait`` of the
#: async one).
_Put = Callable[[Any], Any]


class _AgentQueue:
    """The agent events waiting for the caller: at most ``size``, the oldest dropped (and
    counted) when more arrive. The reader pushes, the caller's iterator pops; the answer's queue
    gets one ``_WAKE`` note when events wait and the caller may be blocked on it. Once sealed
    (the grace period is over), new events are ignored: only those already waiting are
    delivered."""

    __slots__ = ("_events", "_lock", "_signalled", "_wake", "dropped", "sealed", "size")

    def __init__(self, size: int, wake: _Put) -> None:
        self._events: deque[ChannelEvent] = deque()
        self._lock = threading.Lock()  # the sync reader pushes from its own thread
        self.sealed = False
        self._signalled = False
        self._wake = wake
        self.dropped = 0
        self.size = size

    def __len__(self) -> int:
        return len(self._events)

    def push(self, events: Sequence[ChannelEvent]) -> None:
        with self._lock:
            if self.sealed:
                return
            waiting = self._events
            waiting.extend(events)
            for _ in range(len(waiting) - self.size):
                waiting.popleft()
                self.dropped += 1
            if self._signalled:
                return
            self._signalled = True
        self._wake(_WAKE_NOTE)

    def pop(self) -> ChannelEvent | None:
        """The oldest waiting event; None when none waits (a later push wakes the caller)."""
        if not self._signalled and not self._events:
            return None  # the answer's per-event path while no agent event waits: no lock
        with self._lock:
            if self._events:
                return self._events.popleft()
            self._signalled = False
            return None

    def seal(self) -> None:
        with self._lock:
            self.sealed = True


class _Reader:
    """The socket's side: decoding, reporting trouble, and the state the merge reads. The sync
    and async readers add only the I/O (a thread, a task), started by their ``start()``."""

    def __init__(
        self, settings: AgentEventsSettings, endpoint: _Endpoint, agent: _AgentQueue, put: _Put
    ) -> None:
        self._settings, self._agent, self._put = settings, agent, put
        self._url, self._secrets = endpoint
        self.connected = False
        self.finished = False
        self._closing = False

    def _settle(self) -> None:
        """Connected, or given up: the answer's request may go."""
        raise NotImplementedError

    def _opened(self) -> AgentEventDecoder:
        self.connected = True
        self._settle()
        return AgentEventDecoder()

    def _received(self, decoder: AgentEventDecoder, message: str | bytes) -> bool:
        """Decode and queue one message; False: the queue is sealed, stop reading."""
        if self._agent.sealed:
            return False
        try:
            events = decoder.decode(message)
        except Exception:  # a decoder bug must not cost the answer
            logger.debug("lyzr_stream: an agent event could not be decoded", exc_info=True)
            return True
        if events:
            self._agent.push(events)
        return True

    def _failed(self, exc: Exception) -> None:
        from websockets.exceptions import ConnectionClosed

        # The answer must not suffer from anything here: reported (once per client), no more.
        if not isinstance(exc, ConnectionClosed) and not self._closing:
            self._settings.notices.report(_describe(exc, self._secrets))

    def _ended(self) -> None:
        self.finished = True
        self._settle()
        self._put(_CLOSED_NOTE)


class _Merge:
    """The caller's side, driven by the sync and the async iterator alike: what each answer
    queue item that is not an answer event means, how long late agent events are waited for,
    and the final :class:`StreamEnd` with the drop count."""

    __slots__ = ("_agent", "_late_until", "_reader", "_settings", "end", "record")

    def __init__(
        self,
        record: Callable[[StreamEvent], None],
        settings: AgentEventsSettings,
        reader: _Reader,
        agent: _AgentQueue,
    ) -> None:
        self.record, self._settings, self._reader, self._agent = record, settings, reader, agent
        self._late_until = 0.0
        self.end: StreamEnd | None = None

    def connect_timed_out(self) -> None:
        self._settings.notices.report(f"no connection within {self._settings.connect_timeout:g}s")

    def take(self, note: _Note) -> bool:
        """Whether the answer goes on after ``note`` (False: it is over)."""
        kind = note.kind
        if kind == _END:
            self.end = note.payload
            return False
        if kind == _ERROR:
            raise note.payload
        return kind != _DONE  # _WAKE and _CLOSED: go on

    def answer_over(self) -> None:
        """The grace period for late agent events starts now."""
        self._late_until = time.monotonic() + self._settings.grace

    def late_wait(self) -> float | None:
        """How long to wait for late agent events; None: the grace period is over (or there is
        no socket to wait for): the agent queue is sealed, what waits in it is still delivered."""
        remaining = self._late_until - time.monotonic()
        reader = self._reader
        if reader.connected and not reader.finished and remaining > 0:
            return remaining
        self._agent.seal()
        return None

    def final_end(self) -> StreamEnd | None:
        """The answer's :class:`StreamEnd` with the drop count in its metadata (recorded in the
        answer too: recording it again merges the same metadata, plus the count)."""
        if self.end is None:
            return None
        metadata = {**self.end.metadata, DROPPED_KEY: self._agent.dropped}
        end = replace(self.end, metadata=metadata)
        self.record(end)
        return end


def _pumped(event: StreamEvent) -> _Item:
    return _Note(_END, event) if isinstance(event, StreamEnd) else event


def _endpoint(
    settings: AgentEventsSettings, state: StreamState, api_key: SecretStr | None
) -> _Endpoint:
    return settings.endpoint(state.session_id, api_key), state.call.settings.secrets


# -- sync ----------------------------------------------------------------------------------------
class _SyncReader(_Reader):
    """The socket, read on a daemon thread; its events go to the agent queue."""

    _ws: Any = None

    def start(self) -> None:
        self.settled = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="lyzr-agent-events", daemon=True).start()

    def _settle(self) -> None:
        self.settled.set()

    def _run(self) -> None:
        from websockets.sync.client import connect

        try:
            with connect(self._url, **_connect_options()) as ws:
                with self._lock:
                    closing, self._ws = self._closing, ws
                if closing:
                    return
                decoder = self._opened()
                for message in ws:
                    if not self._received(decoder, message):
                        break  # sealed: the socket closes here, on this thread
        except Exception as exc:
            self._failed(exc)
        finally:
            self._ended()

    def close(self) -> None:
        with self._lock:
            self._closing, ws = True, self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()


class _SyncPump:
    """Runs the answer's own iterator on a thread, feeding the answer's queue."""

    def __init__(self, inner: Generator[StreamEvent, None, None], put: _Put) -> None:
        self._inner, self._put = inner, put
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="lyzr-answer-pump", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        put = self._put
        try:
            for event in self._inner:
                put(_pumped(event))
                if self._stop:
                    return
        except BaseException as exc:
            put(_Note(_ERROR, exc))
        else:
            put(_DONE_NOTE)
        finally:
            # Here, on the pump's thread: a generator is closed by the thread that runs it.
            self._inner.close()

    def stop(self) -> None:
        """Stop after the event being read (the HTTP response closes then)."""
        self._stop = True


def _merged_sync(
    record: Callable[[StreamEvent], None],
    inner: Generator[StreamEvent, None, None],
    settings: AgentEventsSettings,
    endpoint: _Endpoint,
) -> Generator[StreamEvent, None, None]:
    sink: queue.SimpleQueue[_Item] = queue.SimpleQueue()
    agent = _AgentQueue(settings.queue_size, sink.put)
    reader = _SyncReader(settings, endpoint, agent, sink.put)
    merge = _Merge(record, settings, reader, agent)
    reader.start()
    if not reader.settled.wait(settings.connect_timeout):
        merge.connect_timed_out()
    pump = _SyncPump(inner, sink.put)
    pump.start()
    get, empty, pop = sink.get, sink.empty, agent.pop
    try:
        while True:
            # The answer's events first; an agent event only when none waits.
            if empty() and (event := pop()) is not None:
                record(event)
                yield event
                continue
            item = get()
            if not isinstance(item, _Note):
                yield item
            elif not merge.take(item):
                break
        merge.answer_over()
        while (wait := merge.late_wait()) is not None:
            if (event := pop()) is None:
                try:
                    get(True, wait)  # a _WAKE, or the socket's end
                except queue.Empty:
                    break
            else:
                record(event)
                yield event
        while (event := pop()) is not None:  # sealed: what waits, no more
            record(event)
            yield event
        if (end := merge.final_end()) is not None:
            yield end
    finally:
        pump.stop()
        reader.close()


def merged_events(
    events: Generator[StreamEvent, None, None],
    state: StreamState,
    settings: AgentEventsSettings,
    api_key: SecretStr | None,
) -> Generator[StreamEvent, None, None]:
    """``events`` (the answer's) with the session's agent events merged in, each recorded in
    ``state``'s answer when it reaches the caller; the final :class:`StreamEnd`'s metadata
    counts the agent events dropped for a slow caller (``agent_events_dropped``)."""
    return _merged_sync(state.record, events, settings, _endpoint(settings, state, api_key))


# -- async ---------------------------------------------------------------------------------------
class _AsyncReader(_Reader):
    """The socket, read by a task of the running loop; its events go to the agent queue."""

    def start(self) -> None:
        self.settled = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _settle(self) -> None:
        self.settled.set()

    async def _run(self) -> None:
        from websockets.asyncio.client import connect

        try:
            async with connect(self._url, **_connect_options()) as ws:
                decoder = self._opened()
                async for message in ws:
                    if not self._received(decoder, message):
                        break
        except Exception as exc:
            self._failed(exc)
        finally:
            self._ended()

    async def aclose(self) -> None:
        if not self._task.done():
            self._task.cancel()
            # Bounded: a peer that does not answer the close handshake must not hold the caller.
            await asyncio.wait({self._task}, timeout=_CLOSE_TIMEOUT + 0.1)


async def _pump(inner: AsyncGenerator[StreamEvent, None], put: _Put) -> None:
    try:
        async for event in inner:
            put(_pumped(event))
    except Exception as exc:
        put(_Note(_ERROR, exc))
    else:
        put(_DONE_NOTE)
    finally:
        await inner.aclose()


async def _finish_merge(pump: asyncio.Task[None], reader: _AsyncReader) -> None:
    # The pump closes the answer's iterator (and so its HTTP response) before this returns.
    await asyncio.gather(pump, return_exceptions=True)
    await reader.aclose()


async def _merged_async(
    state: StreamState,
    inner: AsyncGenerator[StreamEvent, None],
    settings: AgentEventsSettings,
    endpoint: _Endpoint,
    pools: AsyncPools,
) -> AsyncGenerator[StreamEvent, None]:
    record = state.record
    sink: asyncio.Queue[_Item] = asyncio.Queue()
    agent = _AgentQueue(settings.queue_size, sink.put_nowait)
    reader = _AsyncReader(settings, endpoint, agent, sink.put_nowait)
    merge = _Merge(record, settings, reader, agent)
    reader.start()
    try:
        await asyncio.wait_for(reader.settled.wait(), settings.connect_timeout)
    except TimeoutError:
        merge.connect_timed_out()
    pump = asyncio.get_running_loop().create_task(_pump(inner, sink.put_nowait))
    get, empty, pop = sink.get, sink.empty, agent.pop
    closed_at_yield = False
    try:
        while True:
            # The answer's events first; an agent event only when none waits.
            if empty() and (event := pop()) is not None:
                record(event)
                yield event
                continue
            item = await get()
            if not isinstance(item, _Note):
                yield item
            elif not merge.take(item):
                break
        # Late events: inline, not a nested generator (one generator to finalize if abandoned).
        merge.answer_over()
        while (wait := merge.late_wait()) is not None:
            if (event := pop()) is None:
                try:
                    await asyncio.wait_for(get(), wait)  # a _WAKE, or the socket's end
                except TimeoutError:
                    break
            else:
                record(event)
                yield event
        while (event := pop()) is not None:  # sealed: what waits, no more
            record(event)
            yield event
        if (end := merge.final_end()) is not None:
            yield end
    except GeneratorExit:
        # Closed at a yield (aclose, or the loop finalizing a stream left unfinished): finish
        # without suspending, as the HTTP source does (_stream.ahttp_events); the pump and the
        # socket end in a background task the pools wait for and the facade's aclose awaits.
        # A second closer (the loop's shutdown_asyncgens, an outer generator) then finds this
        # generator done, never "already running".
        closed_at_yield = True
        pump.cancel()
        state.closing = pools.run_in_background(lambda: _finish_merge(pump, reader))
        raise
    finally:
        if not closed_at_yield:
            pump.cancel()  # after the answer's end the pump is done: a no-op
            await _finish_merge(pump, reader)


def merged_async_events(
    events: AsyncGenerator[StreamEvent, None],
    state: StreamState,
    settings: AgentEventsSettings,
    api_key: SecretStr | None,
    pools: AsyncPools,
) -> AsyncGenerator[StreamEvent, None]:
    """Async form of :func:`merged_events` (the socket opens when iteration starts)."""
    return _merged_async(state, events, settings, _endpoint(settings, state, api_key), pools)
