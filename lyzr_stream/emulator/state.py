"""The emulator's shared state: key, recorded requests, session memory, fault counters."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EMULATOR_API_KEY", "EmulatorState", "RecordedRequest"]

EMULATOR_API_KEY = "lyzr-emulator-key"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it (header names lowercased)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    timestamp: float = field(default_factory=time.time)
    #: The URL's query string as received (still percent-encoded), ``""`` when none.
    query: str = ""


class EmulatorState:
    """Thread-safe: the server runs in its own thread while tests read from theirs."""

    def __init__(self, api_key: str, stream_format: str, events_per_write: int = 1) -> None:
        if stream_format not in ("text", "json"):
            raise ValueError("stream_format must be 'text' or 'json'")
        if events_per_write < 1:
            raise ValueError("events_per_write must be at least 1")
        #: Events per socket write unless a request's ``x-emulator-events-per-write`` says.
        self.events_per_write = events_per_write
        self.api_key = api_key
        self.stream_format = stream_format
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._sessions: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self._attempts: dict[tuple[str, str], int] = defaultdict(int)
        self._stops: list[str] = []
        self._stop_headers: list[dict[str, str]] = []
        self._stop_counts: dict[str, int] = defaultdict(int)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def history(self, session_id: str) -> tuple[tuple[str, str], ...]:
        with self._lock:
            return tuple(self._sessions.get(session_id, ()))

    def remember(self, session_id: str, role: str, text: str) -> None:
        with self._lock:
            self._sessions[session_id].append((role, text))

    def forget(self, session_id: str) -> None:
        """Drop one session's memory (the session routes' DELETE)."""
        with self._lock:
            self._sessions.pop(session_id, None)

    def count_attempt(self, spec: str, session_id: str) -> int:
        """How many requests (this one included) carried this fault spec and session id."""
        with self._lock:
            self._attempts[(spec, session_id)] += 1
            return self._attempts[(spec, session_id)]

    def record_stop(self, session_id: str, headers: dict[str, str]) -> None:
        """A stop request for ``session_id``: recorded, and its running answers end."""
        with self._lock:
            self._stops.append(session_id)
            self._stop_headers.append(headers)
            self._stop_counts[session_id] += 1

    @property
    def stop_requests(self) -> list[str]:
        """Session ids of the stop requests received, in order."""
        with self._lock:
            return list(self._stops)

    @property
    def stop_headers(self) -> list[dict[str, str]]:
        """The headers of each stop request (names lowercased), in order."""
        with self._lock:
            return list(self._stop_headers)

    def stops_of(self, session_id: str) -> int:
        """How many stop requests this session has had (an answer that started when it was
        ``n`` stops at ``n + 1``)."""
        with self._lock:
            return self._stop_counts.get(session_id, 0)

    def reset(self) -> None:
        with self._lock:
            self._stops.clear()
            self._stop_headers.clear()
            self._stop_counts.clear()
            self._requests.clear()
            self._sessions.clear()
            self._attempts.clear()
