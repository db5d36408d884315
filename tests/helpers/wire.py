"""Bytes fed to a parser in pieces, as a socket hands them over; SSE bytes and their text."""

from __future__ import annotations

from typing import Any, Protocol

from lyzr_stream._events import TextDelta
from lyzr_stream.dialects._lyzr_v3 import LyzrV3StreamParser


class Feedable(Protocol):
    def feed(self, data: bytes) -> list[Any]: ...
    def finish(self) -> list[Any]: ...


def in_pieces(parser: Feedable, data: bytes, cuts: list[int] | None = None) -> list[Any]:
    """What ``parser`` makes of ``data`` fed cut at ``cuts``, then finished."""
    out: list[Any] = []
    start = 0
    for cut in sorted(set(cuts or [])):
        out += parser.feed(data[start:cut])
        start = cut
    out += parser.feed(data[start:])
    return out + parser.finish()


def parse(data: bytes, cuts: list[int] | None = None, *, coalesce: bool = False) -> list[Any]:
    """Lyzr v3's stream parser over ``data`` cut at ``cuts``."""
    return in_pieces(LyzrV3StreamParser(1 << 20, coalesce=coalesce), data, cuts)


def sse(*payloads: str) -> bytes:
    return b"".join(f"data: {p}\n\n".encode() for p in payloads)


def texts(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))
