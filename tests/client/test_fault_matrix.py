"""The fault matrix: every injected fault x {sync, async} x {core, ChatLyzr, LyzrLLM}.

Each case streams one answer through a real socket and checks the promised outcome: either the
exact text after retries, or the typed error whose ``partial_text`` is exactly the text the
caller had already received (nothing lost, nothing repeated). After every case the connection
pool holds no connection in use.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import (
    AgentRequest,
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    LyzrClient,
    LyzrError,
    RateLimitError,
    StreamInterruptedError,
    TextDelta,
    Timeouts,
)
from lyzr_stream._http.limits import RetryPolicy
from lyzr_stream.emulator import Emulator
from tests.conftest import assert_async_pools_clean, assert_pool_clean
from tests.helpers.hostile_servers import shared_hostile_server

MESSAGE = "alpha beta gamma delta"
ANSWER = f"You said: {MESSAGE}"
FIRST_TWO = "You said:"  # the echo agent's first two tokens
FIRST = "You"


@dataclass(frozen=True)
class Case:
    id: str
    fault: str | None
    error: type[LyzrError] | None = None  # None: the stream must succeed with ANSWER
    partial: str = ""
    where: str = "app"  # "app", "front" (connection faults), "hostile" or "refusing"
    attempts: int | None = None  # requests the app must have seen
    timeout_kind: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    answer: str = ANSWER  # the text of a case that succeeds


#: An agent run is re-sent only when it provably started none (``retry_unsafe`` opts out).
UNSAFE = {"retry_unsafe": True}

CASES = [
    # A connection reset or closed after the request went out may have started a run: raised.
    Case("reset-first", "reset-first:1", APIConnectionError, where="front", attempts=0),
    Case("close-first", "close-first:1", APIConnectionError, where="front", attempts=0),
    Case("reset-then-ok-unsafe", "reset-first:1", where="front", attempts=1, options=UNSAFE),
    Case("close-then-ok-unsafe", "close-first:1", where="front", attempts=1, options=UNSAFE),
    Case("reset-always", "reset", APIConnectionError, where="front", attempts=0),
    Case("refused", None, APIConnectionError, where="refusing"),
    Case("slow-headers-ok", "delay-headers:0.2", attempts=1),
    Case(
        "slow-headers-timeout",
        "delay-headers:2",
        APITimeoutError,
        timeout_kind="first_byte",
        attempts=1,
        options={"timeout": Timeouts(first_byte=0.3, read=5)},
    ),
    Case(
        "slow-headers-timeout-unsafe",
        "delay-headers:2",
        APITimeoutError,
        timeout_kind="first_byte",
        attempts=3,
        options={"timeout": Timeouts(first_byte=0.3, read=5), **UNSAFE},
    ),
    Case("drop-after-2", "drop-after:2", StreamInterruptedError, FIRST_TWO, attempts=1),
    Case(
        "stall-after-2",
        "stall-after:2:3",
        APITimeoutError,
        FIRST_TWO,
        timeout_kind="read",
        attempts=1,
        options={"timeout": Timeouts(read=0.3)},
    ),
    *(
        Case(f"status-{code}", f"status:{code}", InternalServerError, attempts=1)
        for code in (500, 502, 503, 504)
    ),
    Case("status-500-unsafe", "status:500", InternalServerError, attempts=3, options=UNSAFE),
    Case("status-503-retry-after", "status:503:retry-after=0", InternalServerError, attempts=3),
    Case("status-429-retry-after", "status:429:retry-after=0", RateLimitError, attempts=3),
    Case("fail-first-2", "fail-first:2:503:retry-after=0", attempts=3),
    Case("fail-first-2-no-retry-after", "fail-first:2:503", InternalServerError, attempts=1),
    Case("fail-first-2-500-unsafe", "fail-first:2:500", attempts=3, options=UNSAFE),
    # 429 without Retry-After (Lyzr: credits exhausted) is one attempt; with it, retried.
    Case("fail-first-429", "fail-first:1:429", RateLimitError, attempts=1),
    Case("status-429-no-retry-after", "status:429", RateLimitError, attempts=1),
    Case("status-400-no-retry", "status:400", BadRequestError, attempts=1),
    Case("html-502", "html:502", InternalServerError, attempts=1),
    # Invalid JSON is answer text, as the official clients show it; JSON over the limits is an
    # error (issue 25, items 2 and 4).
    Case(
        "malformed-json-is-text", "malformed-json", attempts=1,
        answer='You{"content": "x said: ' + MESSAGE,
    ),
    Case("deep-json", "deep-json", APIResponseValidationError, FIRST, attempts=1),
    Case(
        "oversize-event",
        "oversize:5000",
        APIResponseValidationError,
        FIRST,
        attempts=1,
        options={"max_event_bytes": 2048},
    ),
    Case("no-done", "no-done", StreamInterruptedError, ANSWER, attempts=1),
    Case("empty-200", "empty-200", APIResponseValidationError, attempts=1),
    Case("html-200", "wrong-content-type", APIResponseValidationError, attempts=1),
    # Odd but valid bodies: the whole answer, read once (issue 19's text items).
    *(
        Case(name, None, attempts=1, options={"default_headers": headers})
        for name, headers in (
            ("leading-bom", {"x-emulator-quirks": "bom"}),
            ("done-with-trailing-space", {"x-emulator-quirks": "done-space"}),
            ("stream-served-as-text-plain", {"x-emulator-media-type": "text/plain"}),
            ("one-byte-writes", {"x-emulator-chunk-bytes": "1"}),
        )
    ),
    # The end marker ends the answer, whatever the server does with the connection after it
    # (raw-socket hostile server; a client that kept reading would time out or fail).
    *(
        Case(fault, fault, where="hostile", attempts=1, options={"timeout": Timeouts(read=5)})
        for fault in ("done-then-hold:30", "done-then-reset", "done-then-keepalive:30")
    ),
    # Huge and dripped error bodies: read capped and within the total timeout.
    Case(
        "huge-error-50MB", "huge-error:50", InternalServerError, where="hostile", attempts=3,
        options=UNSAFE,
    ),
    Case(
        "huge-text-error-300MB", "huge-text-error:300", InternalServerError, where="hostile",
        attempts=1,
    ),
    Case(
        "dripped-error-total",
        "drip-error:6",
        APITimeoutError,
        where="hostile",
        attempts=1,
        timeout_kind="total",
        options={"timeout": Timeouts(read=5, total=1)},
    ),
]


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the retry decisions, shorten the waits (the matrix tests outcomes, not backoff)."""
    decide = RetryPolicy.delay

    def delay(self: RetryPolicy, attempt: int, error: LyzrError, **kw: Any) -> float | None:
        return None if decide(self, attempt, error, **kw) is None else 0.01

    monkeypatch.setattr(RetryPolicy, "delay", delay)
    yield


def _settings(em: Emulator, case: Case) -> dict[str, Any]:
    url = {
        "app": em.base_url,
        "front": em.front_url,
        "refusing": em.refusing_url,
        "hostile": shared_hostile_server().url,
    }[case.where]
    headers = {"x-emulator-fault": case.fault} if case.fault else {}
    return {
        "api_key": em.api_key,
        "base_url": url,
        "default_headers": headers,
        "max_retries": 2,
        **case.options,
    }


def _run_sync(surface: str, settings: dict[str, Any], session: str) -> LyzrClient:
    """Stream one answer into ``_collected[-1]``; return the client (for the pool check)."""
    received: list[str] = []
    _collected.append(received)
    if surface == "core":
        client = LyzrClient(**settings)
        _clients.append(client)
        request = AgentRequest(agent_id="echo", message=MESSAGE, session_id=session)
        with client.stream(request) as stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    received.append(event.text)
        return client
    if surface == "langchain":
        model = ChatLyzr(agent_id="echo", session_id=session, **settings)
        _clients.append(model.client)
        for chunk in model.stream(MESSAGE):
            received.append(chunk.text)
        return model.client
    llm = LyzrLLM(agent_id="echo", session_id=session, **settings)
    _clients.append(llm.client)
    for response in llm.stream_complete(MESSAGE):
        received.append(response.delta or "")
    return llm.client


async def _run_async(surface: str, settings: dict[str, Any], session: str) -> None:
    received: list[str] = []
    _collected.append(received)
    if surface == "core":
        client = LyzrClient(**settings)
        request = AgentRequest(agent_id="echo", message=MESSAGE, session_id=session)
        _clients.append(client)
        async with client.astream(request) as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    received.append(event.text)
        return
    if surface == "langchain":
        model = ChatLyzr(agent_id="echo", session_id=session, **settings)
        _clients.append(model.client)
        async for chunk in model.astream(MESSAGE):
            received.append(chunk.text)
        return
    llm = LyzrLLM(agent_id="echo", session_id=session, **settings)
    _clients.append(llm.client)
    async for response in await llm.astream_complete(MESSAGE):
        received.append(response.delta or "")


_collected: list[list[str]] = []
_clients: list[LyzrClient] = []


def _check_outcome(
    case: Case, em: Emulator, session: str, error: LyzrError | None, received: list[str]
) -> None:
    text = "".join(received)
    if case.error is None:
        assert error is None, f"{case.id}: expected success, got {error!r}"
        assert text == case.answer
    else:
        assert isinstance(error, case.error), f"{case.id}: expected {case.error}, got {error!r}"
        assert error.partial_text == case.partial
        assert text == case.partial, "the caller's text and partial_text disagree"
        if case.timeout_kind is not None:
            assert isinstance(error, APITimeoutError) and error.kind == case.timeout_kind
    if case.attempts is not None:
        recorded = shared_hostile_server().requests if case.where == "hostile" else em.requests
        seen = [r for r in recorded if (r.json or {}).get("session_id") == session]
        assert len(seen) == case.attempts, f"{case.id}: the app saw {len(seen)} requests"


SURFACES = ["core", "langchain", "llamaindex"]


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_sync(lyzr_emulator: Emulator, case: Case, surface: str) -> None:
    session = f"fm-{uuid.uuid4().hex[:12]}"
    _collected.clear()
    _clients.clear()
    error: LyzrError | None = None
    try:
        _run_sync(surface, _settings(lyzr_emulator, case), session)
    except LyzrError as exc:
        error = exc
    _check_outcome(case, lyzr_emulator, session, error, _collected[-1])
    for client in _clients:
        assert_pool_clean(client._sync_http())
        client.close()


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_async(lyzr_emulator: Emulator, case: Case, surface: str) -> None:
    session = f"fm-{uuid.uuid4().hex[:12]}"
    _collected.clear()
    _clients.clear()
    error: LyzrError | None = None
    try:
        await _run_async(surface, _settings(lyzr_emulator, case), session)
    except LyzrError as exc:
        error = exc
    _check_outcome(case, lyzr_emulator, session, error, _collected[-1])
    for client in _clients:
        assert_async_pools_clean(client)
        await client.aclose()
