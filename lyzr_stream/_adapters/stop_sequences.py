"""Client-side stop sequences: the agent APIs have no ``stop`` parameter, so it is applied here.

:class:`StopFilter` cuts the answer just before the first stop string, holding back only the few
characters that could still be the start of one. Once it has stopped, the caller closes the
stream: nothing after the stop string is read.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopFilter", "cut_at_stop"]


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text, False) if cut < 0 else (text[:cut], True)


class StopFilter:
    """Feed answer text in order; :meth:`feed` returns what may be released now."""

    __slots__ = ("_held", "_longest", "_stops", "stopped")

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._longest = max((len(s) for s in self._stops), default=0)
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        text = self._held + text
        released, self.stopped = cut_at_stop(text, self._stops)
        if self.stopped:
            self._held = ""
            return released
        hold = 0
        for size in range(min(self._longest - 1, len(text)), 0, -1):
            tail = text[-size:]
            if any(s.startswith(tail) for s in self._stops):
                hold = size
                break
        self._held = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    def finish(self) -> str:
        """What was held back when the stream ended without reaching a stop string."""
        held, self._held = self._held, ""
        return "" if self.stopped else held
