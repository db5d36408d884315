"""The Lyzr agent events channel: a WebSocket per session, merged into the answer's stream.

Off unless asked for (``agent_events=True`` or ``LYZR_AGENT_EVENTS=1``), Lyzr v3 only. Per
streamed turn: the socket ``{events_url}/ws/{session_id}?x-api-key=...`` is opened just before
the stream request (the service does not replay events to late subscribers), waiting at most
``connect_timeout`` for it; its messages (decoded by :mod:`lyzr_stream._agent_event_wire`) are
delivered in the order they arrive, interleaved with the answer's events; after the answer's
last text the socket stays open ``grace`` seconds for late events, which come before the final
:class:`StreamEnd`, then it is closed.

The answer never depends on this channel: a refused, failing, slow or garbled socket costs at
most ``connect_timeout`` before the request is sent, is logged once per client (the key
redacted), and the answer streams on without it.

How the two sources meet: the answer's own event iterator runs in a pump (a thread for the sync
stream, a task for the async one) and the socket in a reader (likewise); both feed one queue,
which the caller's iterator reads. So a tool call the agent reports while the answer is still
silent reaches the caller at once, in the sync API too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import AsyncGenerator, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from pydantic import SecretStr

from ._agent_event_wire import AgentEventDecoder, ChannelEvent
from ._errors import InvalidRequestError
from ._events import StreamEnd, StreamEvent
from ._settings import is_loopback_host
from ._timeouts import DEFAULT_EVENTS_CONNECT_TIMEOUT, DEFAULT_EVENTS_GRACE

if TYPE_CHECKING:
    from ._stream import AsyncEventStream, EventStream

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_EVENTS_URL",
    "DEFAULT_GRACE",
    "ENV_AGENT_EVENTS",
    "ENV_EVENTS_URL",
    "AgentEventsSettings",
    "attach_async",
    "attach_sync",
]

ENV_AGENT_EVENTS = "LYZR_AGENT_EVENTS"
ENV_EVENTS_URL = "LYZR_EVENTS_URL"
DEFAULT_EVENTS_URL = "wss://metrics.studio.lyzr.ai"
DEFAULT_CONNECT_TIMEOUT = DEFAULT_EVENTS_CONNECT_TIMEOUT
DEFAULT_GRACE = DEFAULT_EVENTS_GRACE

#: The dialect whose service has this channel.
_DIALECT = "lyzr-v3"
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

# Queue items: (kind, payload).
_HTTP, _AGENT, _ERROR, _DONE, _CLOSED = range(5)
_Item = tuple[int, Any]


class _Notices:
    """Logs the channel's trouble at WARNING the first time per client, then at DEBUG."""

    __slots__ = ("_warned",)

    def __init__(self) -> None:
        self._warned = False

    def report(self, what: str) -> None:
        level = logging.DEBUG if self._warned else logging.WARNING
        self._warned = True
        logger.log(level, "lyzr_stream: agent events unavailable (%s); the answer goes on", what)


def _describe(exc: BaseException, secret: str | None) -> str:
    """An exception as one line for the log, without the key (URLs can appear in messages)."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    text = f"HTTP {status}" if isinstance(status, int) else f"{type(exc).__name__}: {exc}"
    if secret:
        text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
    return text[:300]


def _env_enabled() -> bool:
    return os.environ.get(ENV_AGENT_EVENTS, "").strip().lower() in _TRUE


def _check_url(url: str, allow_insecure_http: bool) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise InvalidRequestError(f"events_url must be a ws:// or wss:// URL with a host: {url!r}")
    if parts.query or parts.fragment:
        raise InvalidRequestError(f"events_url must not carry a query or fragment: {url!r}")
    if parts.scheme == "ws" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise InvalidRequestError(
            f"refusing to send the API key over plain ws:// to {parts.hostname}; use wss://, or "
            "pass allow_insecure_http=True if this network is trusted"
        )
    return url.rstrip("/")


def _require_websockets() -> None:
    try:
        import websockets  # noqa: F401
    except ImportError:
        raise ImportError(
            "agent_events=True needs the websockets package: pip install 'lyzr-stream[events]'"
        ) from None


@dataclass(frozen=True, slots=True)
class AgentEventsSettings:
    """Where and how the events channel connects (resolved once per client)."""

    url: str = DEFAULT_EVENTS_URL
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    grace: float = DEFAULT_GRACE
    notices: _Notices = field(default_factory=_Notices, repr=False, compare=False)

    @classmethod
    def resolve(
        cls,
        enabled: bool | None,
        url: str | None,
        *,
        dialect: str,
        allow_insecure_http: bool = False,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        grace: float = DEFAULT_GRACE,
    ) -> AgentEventsSettings | None:
        """The settings, or None when the channel is off.

        ``enabled=None`` reads ``LYZR_AGENT_EVENTS``; the URL is ``url``, else
        ``LYZR_EVENTS_URL``, else ``wss://metrics.studio.lyzr.ai``. Asking for the channel
        with another dialect than Lyzr v3 is an error; the environment variable is then
        ignored (it may be set for a whole process that also talks to other services).
        """
        if enabled is None:
            if not _env_enabled():
                return None
            if dialect != _DIALECT:
                logger.debug("lyzr_stream: %s ignored for dialect %s", ENV_AGENT_EVENTS, dialect)
                return None
        elif not enabled:
            return None
        elif dialect != _DIALECT:
            raise InvalidRequestError(
                f"agent_events is available with the {_DIALECT} dialect only, not {dialect!r}"
            )
        for name, value, low in (("connect_timeout", connect_timeout, 0.0), ("grace", grace, -1)):
            if not isinstance(value, (int, float)) or not value > low or value > 60:
                raise InvalidRequestError(
                    f"agent events {name} must be a number of seconds up to 60, got {value!r}"
                )
        _require_websockets()
        chosen = url or os.environ.get(ENV_EVENTS_URL) or DEFAULT_EVENTS_URL
        return cls(_check_url(chosen, allow_insecure_http), float(connect_timeout), float(grace))

    def endpoint(self, session_id: str, api_key: SecretStr | None) -> str:
        """The socket URL of a session, key included (never logged or shown)."""
        url = f"{self.url}/ws/{quote(session_id, safe='')}"
        if api_key is not None:
            url += "?" + urlencode({"x-api-key": api_key.get_secret_value()})
        return url


# -- sync ----------------------------------------------------------------------------------------
class _SyncReader:
    """The socket, read on a daemon thread; its events go to the shared queue."""

    def __init__(
        self,
        settings: AgentEventsSettings,
        url: str,
        secret: str | None,
        sink: queue.SimpleQueue[_Item],
    ) -> None:
        self._settings, self._url, self._secret, self._sink = settings, url, secret, sink
        self.connected = threading.Event()
        self.settled = threading.Event()  # connected, or given up
        self.finished = threading.Event()
        self._lock = threading.Lock()
        self._closing = False
        self._ws: Any = None
        self._thread = threading.Thread(target=self._run, name="lyzr-agent-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        try:
            with connect(
                self._url,
                open_timeout=_OPEN_LIMIT,
                close_timeout=_CLOSE_TIMEOUT,
                max_size=_MAX_MESSAGE,
                logger=_wire_logger,
            ) as ws:
                with self._lock:
                    closing, self._ws = self._closing, ws
                if closing:
                    return
                self.connected.set()
                self.settled.set()
                decoder = AgentEventDecoder()
                for message in ws:
                    events = _decode(decoder, message)
                    if events:
                        self._sink.put((_AGENT, events))
        except ConnectionClosed:
            pass
        except Exception as exc:  # the answer must not suffer from anything here
            if not self._closing:
                self._settings.notices.report(_describe(exc, self._secret))
        finally:
            self._end()

    def _end(self) -> None:
        self.finished.set()
        self.settled.set()
        self._sink.put((_CLOSED, None))

    def close(self) -> None:
        with self._lock:
            self._closing, ws = True, self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()


class _SyncPump:
    """Runs the answer's own iterator on a thread, feeding the shared queue."""

    def __init__(self, inner: Generator[StreamEvent, None, None], sink: queue.SimpleQueue[_Item]):
        self._inner, self._sink = inner, sink
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="lyzr-answer-pump", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self._inner:
                self._sink.put((_HTTP, event))
                if self._stop:
                    return
        except BaseException as exc:
            self._sink.put((_ERROR, exc))
        else:
            self._sink.put((_DONE, None))
        finally:
            # Here, on the pump's thread: a generator is closed by the thread that runs it.
            self._inner.close()

    def stop(self) -> None:
        """Stop after the event being read (the HTTP response closes then)."""
        self._stop = True


def _decode(decoder: AgentEventDecoder, message: str | bytes) -> list[ChannelEvent]:
    try:
        return decoder.decode(message)
    except Exception:  # a decoder bug must not cost the answer
        logger.debug("lyzr_stream: an agent event could not be decoded", exc_info=True)
        return []


def _merged_sync(
    stream: EventStream,
    inner: Generator[StreamEvent, None, None],
    settings: AgentEventsSettings,
    url: str,
    secret: str | None,
) -> Generator[StreamEvent, None, None]:
    sink: queue.SimpleQueue[_Item] = queue.SimpleQueue()
    reader = _SyncReader(settings, url, secret, sink)
    reader.start()
    if not reader.settled.wait(settings.connect_timeout):
        settings.notices.report(f"no connection within {settings.connect_timeout:g}s")
    pump = _SyncPump(inner, sink)
    pump.start()
    end: StreamEnd | None = None
    try:
        while True:
            kind, item = sink.get()
            if kind == _AGENT:
                yield from _recorded(stream, item)
            elif kind == _HTTP:
                if isinstance(item, StreamEnd):
                    end = item
                    break
                yield item
            elif kind == _ERROR:
                raise item
            elif kind == _DONE:
                break
        deadline = time.monotonic() + settings.grace
        while True:
            remaining = deadline - time.monotonic()
            wait = reader.connected.is_set() and not reader.finished.is_set() and remaining > 0
            try:
                kind, item = sink.get(timeout=remaining) if wait else sink.get_nowait()
            except queue.Empty:
                break
            if kind == _AGENT:
                yield from _recorded(stream, item)
        if end is not None:
            yield end
    finally:
        pump.stop()
        reader.close()


def _recorded(
    stream: EventStream | AsyncEventStream, events: Sequence[ChannelEvent]
) -> Iterator[StreamEvent]:
    for event in events:
        stream._builder.add(event)
        yield event


def attach_sync(
    stream: EventStream, settings: AgentEventsSettings, api_key: SecretStr | None
) -> None:
    """Make ``stream`` deliver the session's agent events along with the answer."""
    url = settings.endpoint(stream.session_id, api_key)
    secret = api_key.get_secret_value() if api_key is not None else None
    stream._iterator = _merged_sync(stream, stream._iterator, settings, url, secret)


# -- async ---------------------------------------------------------------------------------------
class _AsyncReader:
    """The socket, read by a task of the running loop; its events go to the shared queue."""

    def __init__(
        self,
        settings: AgentEventsSettings,
        url: str,
        secret: str | None,
        sink: asyncio.Queue[_Item],
    ) -> None:
        self._settings, self._url, self._secret, self._sink = settings, url, secret, sink
        self.connected = asyncio.Event()
        self.settled = asyncio.Event()
        self.finished = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        try:
            async with connect(
                self._url,
                open_timeout=_OPEN_LIMIT,
                close_timeout=_CLOSE_TIMEOUT,
                max_size=_MAX_MESSAGE,
                logger=_wire_logger,
            ) as ws:
                self.connected.set()
                self.settled.set()
                decoder = AgentEventDecoder()
                async for message in ws:
                    events = _decode(decoder, message)
                    if events:
                        self._sink.put_nowait((_AGENT, events))
        except ConnectionClosed:
            pass
        except Exception as exc:
            self._settings.notices.report(_describe(exc, self._secret))
        finally:
            self.finished = True
            self.settled.set()
            self._sink.put_nowait((_CLOSED, None))

    async def aclose(self) -> None:
        if not self._task.done():
            self._task.cancel()
            # Bounded: a peer that does not answer the close handshake must not hold the caller.
            await asyncio.wait({self._task}, timeout=_CLOSE_TIMEOUT + 0.1)


async def _pump(inner: AsyncGenerator[StreamEvent, None], sink: asyncio.Queue[_Item]) -> None:
    try:
        async for event in inner:
            sink.put_nowait((_HTTP, event))
    except Exception as exc:
        sink.put_nowait((_ERROR, exc))
    else:
        sink.put_nowait((_DONE, None))
    finally:
        await inner.aclose()


async def _merged_async(
    stream: AsyncEventStream,
    inner: AsyncGenerator[StreamEvent, None],
    settings: AgentEventsSettings,
    url: str,
    secret: str | None,
) -> AsyncGenerator[StreamEvent, None]:
    sink: asyncio.Queue[_Item] = asyncio.Queue()
    reader = _AsyncReader(settings, url, secret, sink)
    try:
        await asyncio.wait_for(reader.settled.wait(), settings.connect_timeout)
    except TimeoutError:
        settings.notices.report(f"no connection within {settings.connect_timeout:g}s")
    pump = asyncio.get_running_loop().create_task(_pump(inner, sink))
    end: StreamEnd | None = None
    try:
        while True:
            kind, item = await sink.get()
            if kind == _AGENT:
                for event in _recorded(stream, item):
                    yield event
            elif kind == _HTTP:
                if isinstance(item, StreamEnd):
                    end = item
                    break
                yield item
            elif kind == _ERROR:
                raise item
            elif kind == _DONE:
                break
        # Late events: inline, not a nested generator (one generator to finalize if abandoned).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.grace
        while True:
            remaining = deadline - loop.time()
            try:
                if reader.connected.is_set() and not reader.finished and remaining > 0:
                    kind, item = await asyncio.wait_for(sink.get(), remaining)
                else:
                    kind, item = sink.get_nowait()
            except (TimeoutError, asyncio.QueueEmpty):
                break
            if kind == _AGENT:
                for event in _recorded(stream, item):
                    yield event
        if end is not None:
            yield end
    finally:
        if not pump.done():
            pump.cancel()
        # The pump closes the answer's iterator (and so its HTTP response) before this returns.
        await asyncio.gather(pump, return_exceptions=True)
        await reader.aclose()


def attach_async(
    stream: AsyncEventStream, settings: AgentEventsSettings, api_key: SecretStr | None
) -> None:
    """Async form of :func:`attach_sync` (the socket opens when iteration starts)."""
    url = settings.endpoint(stream.session_id, api_key)
    secret = api_key.get_secret_value() if api_key is not None else None
    stream._iterator = _merged_async(stream, stream._iterator, settings, url, secret)
