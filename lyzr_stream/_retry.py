"""When to retry and how long to wait: a pure policy, shared by the sync and async shells.

Retried: connection errors, timeouts before the response starts, and the statuses 408, 409,
500, 502, 503, 504; 429 only when it carries ``Retry-After`` (Lyzr answers 429 when the
account's credits are exhausted, and retrying that only burns the caller's time). Never
retried: 400, 401, 403, 404, 422, agent errors, malformed responses, and anything at all once
part of a stream has been handed to the caller (the error then carries ``partial_text``;
retrying would repeat text the caller already has).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidRequestError,
    LyzrError,
    parse_retry_after,
)

__all__ = ["RETRY_STATUSES", "RetryPolicy"]

#: Statuses retried whatever their headers. 429 is retried only with ``Retry-After``.
RETRY_STATUSES = frozenset({408, 409, 500, 502, 503, 504})
#: Timeouts that fire before any response byte arrived; the others are mid-body.
_EARLY_TIMEOUTS = frozenset({"connect", "pool", "write", "first_byte"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter; ``Retry-After`` honoured up to ``max_retry_after``."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or (self.max_retries < 0)
        ):
            raise InvalidRequestError(
                f"max_retries must be a non-negative integer, got {self.max_retries!r}"
            )

    @staticmethod
    def is_retryable(error: LyzrError) -> bool:
        if isinstance(error, APITimeoutError):
            return error.kind in _EARLY_TIMEOUTS
        if isinstance(error, APIStatusError):
            if error.status_code == 429:
                return parse_retry_after(error.headers.get("retry-after")) is not None
            return error.status_code in RETRY_STATUSES
        # Reached only while nothing has been handed to the caller (the shells check that).
        return isinstance(error, APIConnectionError)

    def delay(self, attempt: int, error: LyzrError) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based), or None: do not retry."""
        if attempt > self.max_retries or not self.is_retryable(error):
            return None
        if isinstance(error, APIStatusError):
            retry_after = parse_retry_after(error.headers.get("retry-after"))
            if retry_after is not None:
                return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)
