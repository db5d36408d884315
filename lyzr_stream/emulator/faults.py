"""Fault injection: a request header ``x-emulator-fault: <spec>`` makes the emulator misbehave.

Specs (one per request):

- ``status:<code>`` / ``status:<code>:retry-after=<s>``: answer that status (JSON detail).
- ``html:<code>``: an HTML error page with that status.
- ``redirect:<code>``: a 3xx to the same URL (a client must not follow it with its key).
- ``delay-headers:<s>``: wait before sending the response headers.
- ``drop-after:<k>``: send ``k`` events, then cut the connection (no end of body).
- ``stall-after:<k>:<s>``: send ``k`` events, pause ``s`` seconds, then go on.
- ``no-done``: a complete, clean body without ``[DONE]``.
- ``fail-first:<k>[:<code>[:retry-after=<s>]]``: the first ``k`` requests with this spec and
  session id answer ``code`` (default 503), with ``Retry-After: <s>`` when given; later ones
  succeed.
- ``malformed-json``: one event with invalid JSON after the first fragment.
- ``oversize:<bytes>``: one data line of that many bytes after the first fragment.
- ``deep-json``: one JSON event nested 200,000 levels deep (never closed) after the first
  fragment.
- ``empty-200``: status 200, ``text/event-stream``, empty body.
- ``wrong-content-type``: status 200 with an HTML body.
- ``done-then-hold:<s>``: the whole answer and its end marker, then ``s`` seconds of silence
  before the body ends (a proxy holding the connection).
- ``done-then-keepalive:<s>``: the answer and its end marker, then a ``: keepalive`` comment
  every 50 ms for ``s`` seconds.
- ``extra-result``: the upload route answers one result more than the files it received (an
  answer that does not match the request).

The background-task poll route (``GET /v3/inference/task/{id}``) takes its fault from
``x-emulator-poll-fault`` instead (``status``, ``html``, ``fail-first``), so the polls can
misbehave while the create request does not (see ``tasks.py``).

Connection faults (``reset``, ``reset-first:<k>``, ``close-first:<k>``) need the raw socket,
which ASGI does not expose: the TCP front at ``Emulator.front_url`` acts on them (see
``front.py``) and the app ignores them. ``Emulator.refusing_url`` refuses every connection.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAULT_HEADER", "Fault", "FaultSpecError", "parse_fault"]

FAULT_HEADER = "x-emulator-fault"


class FaultSpecError(ValueError):
    """The fault header could not be understood."""


@dataclass(frozen=True)
class Fault:
    kind: str
    count: int = 0
    seconds: float = 0.0
    status: int = 0
    retry_after: str | None = None
    spec: str = ""


def _int(value: str, spec: str) -> int:
    if not value.isdigit():
        raise FaultSpecError(f"expected a whole number in fault {spec!r}")
    return int(value)


def _seconds(value: str, spec: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise FaultSpecError(f"expected seconds in fault {spec!r}") from None
    if not 0 <= seconds <= 600:
        raise FaultSpecError(f"seconds out of range in fault {spec!r}")
    return seconds


def _retry_after(args: list[str], spec: str) -> str | None:
    """The value of an optional ``retry-after=<s>`` argument (any text: a client must cope)."""
    if not args:
        return None
    name, _, value = ":".join(args).partition("=")
    if name != "retry-after" or not value:
        raise FaultSpecError(f"expected retry-after=<s> in fault {spec!r}")
    return value


def parse_fault(spec: str | None) -> Fault | None:
    """The fault named by a header value, or None. Raises FaultSpecError for a bad spec."""
    if not spec:
        return None
    spec = spec.strip()
    kind, *args = spec.split(":")
    if kind == "status" and args:
        retry_after = _retry_after(args[1:], spec)
        return Fault("status", status=_int(args[0], spec), retry_after=retry_after, spec=spec)
    if kind == "redirect" and len(args) == 1 and args[0] in ("301", "302", "303", "307", "308"):
        return Fault("redirect", status=int(args[0]), spec=spec)
    if kind == "html" and len(args) == 1:
        return Fault("html", status=_int(args[0], spec), spec=spec)
    if kind == "delay-headers" and len(args) == 1:
        return Fault("delay-headers", seconds=_seconds(args[0], spec), spec=spec)
    if kind == "drop-after" and len(args) == 1:
        return Fault("drop-after", count=_int(args[0], spec), spec=spec)
    if kind == "stall-after" and len(args) == 2:
        return Fault(
            "stall-after", count=_int(args[0], spec), seconds=_seconds(args[1], spec), spec=spec
        )
    if kind == "fail-first" and len(args) in (1, 2, 3):
        status = _int(args[1], spec) if len(args) >= 2 else 503
        retry_after = _retry_after(args[2:], spec)
        return Fault(
            "fail-first", count=_int(args[0], spec), status=status, retry_after=retry_after,
            spec=spec,
        )
    if kind in ("done-then-hold", "done-then-keepalive") and len(args) == 1:
        return Fault(kind, seconds=_seconds(args[0], spec), spec=spec)
    if kind == "oversize" and len(args) == 1:
        return Fault("oversize", count=_int(args[0], spec), spec=spec)
    if (kind == "reset" and not args) or (
        kind in ("reset-first", "close-first") and len(args) == 1 and args[0].isdigit()
    ):
        return None  # a connection fault: the TCP front's business, not the app's
    no_args = ("no-done", "malformed-json", "empty-200", "wrong-content-type", "extra-result")
    if kind in no_args and not args:
        return Fault(kind, spec=spec)
    # -- JSON over the limits (issue 25, item 4) --
    if kind == "deep-json" and not args:
        return Fault(kind, spec=spec)
    raise FaultSpecError(f"unknown fault {spec!r}")
