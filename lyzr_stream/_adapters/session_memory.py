"""A session's memory on the service: the history readers and the session record.

LangChain's ``LyzrChatMessageHistory`` and LlamaIndex's ``read_session_history`` take the same
client arguments (:class:`HistoryClientOptions`, declared once here) and follow the same rule: a
session the service does not know (404) has no turns yet, an empty list. They return the
user's words: the context block this package put in front of them is cut off
(:func:`~lyzr_stream._adapters.conversation.strip_context`).

The **session record** (:class:`SessionRecord`, one per client, bounded, thread-safe) is what
this process knows each session holds: the prints of the turns it sent and saw, or of the
memory it read once. :func:`prepare_call` / :func:`aprepare_call` build a framework call with
it: at most one history read per session per client, when a call carries earlier turns and
the record does not know the session (the rule: ``conversation`` module doc).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypedDict

import httpx
from pydantic import SecretStr

from .._client import LyzrClient
from .._errors import NotFoundError
from .._http.limits import Timeouts
from .._routes.sessions import SessionMessage
from .conversation import (
    ANSWER,
    MemoryLookup,
    ModelCall,
    Print,
    answer_print,
    memory_prints,
    strip_context,
)

__all__ = [
    "HistoryClientOptions",
    "SessionRecord",
    "aprepare_call",
    "aread_memory",
    "history_client",
    "prepare_call",
    "read_memory",
    "record_answer",
    "record_of",
]


class HistoryClientOptions(TypedDict, total=False):
    """The client arguments of a history reader, as for ChatLyzr and LyzrLLM (``LYZR_API_KEY``
    and ``LYZR_BASE_URL`` apply). ``timeout`` left out means the library's defaults
    (``lyzr_stream.Timeouts()``); ``timeout=None`` means no timeout, as for ``LyzrClient``."""

    api_key: str | SecretStr | None
    base_url: str | None
    user_id: str | None
    timeout: float | httpx.Timeout | Timeouts | None
    max_retries: int
    default_headers: Mapping[str, str] | None
    allow_insecure_http: bool


def history_client(client: LyzrClient | None, options: Mapping[str, Any], owner: str) -> LyzrClient:
    """``client`` if given (a model's, to share its connections and key), else a new one."""
    unknown = sorted(set(options) - HistoryClientOptions.__optional_keys__)
    if unknown:
        raise TypeError(f"{owner}() got unexpected keyword argument(s) {unknown}")
    return client if client is not None else LyzrClient(**options)


def read_memory(client: LyzrClient, session_id: str, agent_id: str | None) -> list[SessionMessage]:
    """The session's turns, oldest first (``agent_id``: the agent-scoped route)."""
    try:
        history = client.session_history(session_id, agent_id=agent_id)
    except NotFoundError:
        history = []  # a session the service does not know has no turns yet
    return _learn(client, session_id, history)


def _learn(
    client: LyzrClient, session_id: str, history: list[SessionMessage]
) -> list[SessionMessage]:
    """The memory as the readers return it (the user's words); what it holds goes into the
    client's session record, so a model sharing the client does not read it again."""
    words = _user_words(history)
    record_of(client).put(session_id, _learned(words))
    return words


def _user_words(history: list[SessionMessage]) -> list[SessionMessage]:
    """The memory with the context block this package added cut off the user's turns."""
    return [
        replace(entry, content=strip_context(entry.content)) if entry.role in _USER else entry
        for entry in history
    ]


_USER = frozenset({"user", "human"})


async def aread_memory(
    client: LyzrClient, session_id: str, agent_id: str | None
) -> list[SessionMessage]:
    """Async :func:`read_memory`."""
    try:
        history = await client.asession_history(session_id, agent_id=agent_id)
    except NotFoundError:
        history = []
    return _learn(client, session_id, history)


class SessionRecord:
    """What this process knows the sessions of one client hold (LRU, ``size`` sessions)."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._turns: OrderedDict[str, tuple[Print, ...]] = OrderedDict()

    def get(self, session_id: str) -> tuple[Print, ...] | None:
        with self._lock:
            turns = self._turns.get(session_id)
            if turns is not None:
                self._turns.move_to_end(session_id)
            return turns

    def put(self, session_id: str, turns: tuple[Print, ...]) -> None:
        with self._lock:
            self._turns[session_id] = turns
            self._turns.move_to_end(session_id)
            while len(self._turns) > self._size:
                self._turns.popitem(last=False)

    def settle(self, session_id: str, answer: Print) -> None:
        """The agent's answer to the last turn sent to ``session_id``, as the caller received
        it, in place of the :data:`ANSWER` wildcard: an answer edited later in the caller's
        transcript (human-in-the-loop) then disagrees with the record, and the prompt wins."""
        with self._lock:
            turns = self._turns.get(session_id)
            if turns and turns[-1] == ANSWER:
                self._turns[session_id] = (*turns[:-1], answer)

    def __len__(self) -> int:
        with self._lock:
            return len(self._turns)


_RECORDS: weakref.WeakKeyDictionary[LyzrClient, SessionRecord] = weakref.WeakKeyDictionary()
_RECORDS_LOCK = threading.Lock()


def _forget_after_fork() -> None:
    """A forked child starts with no record (and no lock another thread of the parent held):
    it is a new process, and learns what it needs again."""
    global _RECORDS, _RECORDS_LOCK
    _RECORDS = weakref.WeakKeyDictionary()
    _RECORDS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def record_of(client: LyzrClient) -> SessionRecord:
    """The session record of ``client`` (made on first use, dropped with the client)."""
    with _RECORDS_LOCK:
        record = _RECORDS.get(client)
        if record is None:
            record = _RECORDS[client] = SessionRecord()
        return record


def _learned(history: list[SessionMessage]) -> tuple[Print, ...]:
    return memory_prints((entry.role, entry.content) for entry in history)


def record_answer(client: LyzrClient, session_id: str, text: str) -> None:
    """The answer a framework call handed its caller (after stop sequences), recorded for the
    session it went to (a stateless call's fresh session is not in the record: nothing
    happens). An answer with no text (tool calls only) stays a wildcard."""
    if text.strip():
        record = _RECORDS.get(client)
        if record is not None:
            record.settle(session_id, answer_print(text))


def prepare_call(client: LyzrClient, build: Callable[[MemoryLookup], ModelCall]) -> ModelCall:
    """The framework call ``build`` makes with the client's session record: the session's
    memory read first when the rule needs it (once per session per client), the record
    updated with what the call sends."""
    record = record_of(client)
    call = build(record.get)
    if call.learn is not None:
        read_memory(client, call.learn, None)  # the record learns what the session holds
        call = build(record.get)
    if call.remember is not None:
        record.put(*call.remember)
    return call


async def aprepare_call(
    client: LyzrClient, build: Callable[[MemoryLookup], ModelCall]
) -> ModelCall:
    """Async :func:`prepare_call` (the history read is async)."""
    record = record_of(client)
    call = build(record.get)
    if call.learn is not None:
        await aread_memory(client, call.learn, None)
        call = build(record.get)
    if call.remember is not None:
        record.put(*call.remember)
    return call
