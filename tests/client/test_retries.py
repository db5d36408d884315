"""The retry rule: which failures retry, the waits, Retry-After; one prepared call resent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from lyzr_stream import (
    AgentError,
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    InvalidRequestError,
)
from lyzr_stream._errors import parse_retry_after, status_error
from lyzr_stream._http.limits import RETRY_STATUSES, Attempts, Deadline, RetryPolicy
from lyzr_stream.emulator import Emulator
from tests.helpers.clients import make_client, req


# -- the rule on its own (no I/O) ---------------------------------------------------------------
def _status(code: int, retry_after: str | None = None) -> object:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return status_error(code, headers, {})


@pytest.mark.parametrize("code", sorted(RETRY_STATUSES))
def test_retryable_statuses(code: int) -> None:
    assert RetryPolicy.is_retryable(_status(code))  # type: ignore[arg-type]


def test_429_retries_only_with_retry_after() -> None:
    # Lyzr answers 429 when the credits are exhausted: without Retry-After, waiting cannot help.
    assert not RetryPolicy.is_retryable(_status(429))  # type: ignore[arg-type]
    assert RetryPolicy().delay(1, _status(429)) is None  # type: ignore[arg-type]
    assert not RetryPolicy.is_retryable(_status(429, "soon"))  # type: ignore[arg-type]
    assert RetryPolicy.is_retryable(_status(429, "2"))  # type: ignore[arg-type]
    assert RetryPolicy().delay(1, _status(429, "2")) == 2  # type: ignore[arg-type]


def test_429_message_says_credits_may_be_exhausted() -> None:
    error = _status(429)
    assert "out of credits" in str(error)


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_client_errors_never_retry(code: int) -> None:
    assert RetryPolicy().delay(1, _status(code)) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (APIConnectionError("refused"), True),
        (APITimeoutError("t", kind="connect"), True),
        (APITimeoutError("t", kind="first_byte"), True),
        (APITimeoutError("t", kind="read"), False),  # the answer had started
        (APITimeoutError("t", kind="total"), False),
        (AgentError("boom"), False),
        (APIResponseValidationError("bad json"), False),
    ],
)
def test_which_failures_retry(error: object, retry: bool) -> None:
    assert RetryPolicy.is_retryable(error) is retry  # type: ignore[arg-type]


def test_exponential_backoff_with_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(max_retries=10, initial_delay=0.5, max_delay=8.0)
    error = APIConnectionError("refused")
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (8, 8.0)]:
        delays = [policy.delay(attempt, error) for _ in range(200)]
        assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1, "no jitter"


def test_max_retries_is_respected() -> None:
    policy = RetryPolicy(max_retries=2)
    error = APIConnectionError("refused")
    assert policy.delay(2, error) is not None
    assert policy.delay(3, error) is None
    assert RetryPolicy(max_retries=0).delay(1, error) is None


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(max_retry_after=60.0)
    assert policy.delay(1, _status(429, "7")) == 7  # type: ignore[arg-type]
    assert policy.delay(1, _status(503, "3600")) == 60  # type: ignore[arg-type]
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    delay = policy.delay(1, _status(429, later))  # type: ignore[arg-type]
    assert delay is not None and 25 <= delay <= 30


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("1.5", 1.5), ("-3", 0.0), ("soon", None), ("", None), ("nan", None)],
)
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize("bad", [-1, True, 1.5, "2"])
def test_bad_max_retries(bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="max_retries"):
        RetryPolicy(max_retries=bad)  # type: ignore[arg-type]


def test_one_retry_rule_for_every_send_loop() -> None:
    attempts = Attempts(RetryPolicy(max_retries=1, initial_delay=0.0), Deadline(None))
    failure = InternalServerError("boom", status_code=500)
    attempts.begin()
    assert attempts.delay_after(failure) == 0.0
    attempts.begin()
    with pytest.raises(InternalServerError, match="boom"):
        attempts.delay_after(failure)
    # A wait that would outlast the total timeout is cut, then the call ends as a timeout.
    late = Attempts(RetryPolicy(max_retries=3, initial_delay=5.0), Deadline(0.01))
    late.begin()
    assert late.delay_after(failure) <= 0.01
    with pytest.raises(APITimeoutError) as info:
        late.begin()
    assert info.value.kind == "total" and info.value.__cause__ is failure


# -- over sockets ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["stream", "chat"])
def test_retries_then_succeeds(lyzr_emulator: Emulator, mode: str) -> None:
    lyzr_emulator.reset()
    headers = {"x-emulator-fault": "fail-first:2:503:retry-after=0"}
    with make_client(lyzr_emulator, default_headers=headers, max_retries=2) as c:
        request = req(session_id=f"retry-{mode}")
        if mode == "stream":
            stream = c.stream(request)
            assert stream.until_done().text == "You said: hello world"
            assert stream.stats.attempts == 3
        else:
            assert c.chat(request).text == "You said: hello world"
    assert len(lyzr_emulator.requests) == 3


@pytest.mark.parametrize("mode", ["stream", "astream", "chat", "achat"])
def test_every_attempt_sends_the_one_prepared_call(lyzr_emulator: Emulator, mode: str) -> None:
    """The call is prepared once: retries resend the same body, with the same session id that
    was generated for a request that had none."""
    lyzr_emulator.reset()
    headers = {"x-emulator-fault": "fail-first:2:503:retry-after=0"}
    with make_client(lyzr_emulator, default_headers=headers, max_retries=2) as c:
        if mode == "stream":
            answer = c.stream(req()).until_done()
        elif mode == "chat":
            answer = c.chat(req())
        else:

            async def run() -> Any:
                if mode == "astream":
                    return await c.astream(req()).until_done()
                return await c.achat(req())

            answer = asyncio.run(run())
    bodies = [r.json for r in lyzr_emulator.requests]
    assert len(bodies) == 3
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["session_id"] == answer.session_id
    assert answer.session_id.startswith("echo-")


def test_no_retry_on_400(lyzr_emulator: Emulator) -> None:
    lyzr_emulator.reset()
    with make_client(lyzr_emulator, default_headers={"x-emulator-fault": "status:400"}) as c:
        with pytest.raises(BadRequestError):
            c.chat(req())
    assert len(lyzr_emulator.requests) == 1
