"""Splits a leading ``<think>...</think>`` block out of the answer text, fragment by fragment.

Reasoning models stream their reasoning first, wrapped in ``<think>`` tags, and UIs show it apart
from the answer. The tags may be cut anywhere across fragments ("<thi" + "nk>"), so the splitter
holds back only the few characters that could still be the start of a tag, and nothing else:
text that cannot be part of a tag leaves at once.

The rule: a reasoning block is recognised only at the very start of the answer (leading
whitespace allowed). Whitespace right after ``</think>`` is dropped. A ``<think>`` appearing
later is ordinary answer text (an answer may talk about the tag).
"""

from __future__ import annotations

from .events import ReasoningDelta, TextDelta

__all__ = ["ThinkSplitter"]

OPEN = "<think>"
CLOSE = "</think>"

_START, _REASONING, _AFTER_CLOSE, _ANSWER = range(4)


def _held_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkSplitter:
    """Feed answer fragments in order; get ``TextDelta`` / ``ReasoningDelta`` out.

    ``passthrough`` turns true once the reasoning block (if any) is over: from then on every
    fragment is answer text, and a hot loop may skip calling :meth:`feed`.
    """

    __slots__ = ("_pending", "_state", "passthrough")

    def __init__(self) -> None:
        self._state = _START
        self._pending = ""
        self.passthrough = False

    def feed(self, text: str) -> list[TextDelta | ReasoningDelta]:
        out: list[TextDelta | ReasoningDelta] = []
        text = self._pending + text
        self._pending = ""
        if self._state == _START:
            stripped = text.lstrip()
            if not stripped or (len(stripped) < len(OPEN) and OPEN.startswith(stripped)):
                self._pending = text
                return out
            if not stripped.startswith(OPEN):
                self._enter_answer()
                out.append(TextDelta(text))
                return out
            self._state = _REASONING
            text = stripped[len(OPEN) :]
        if self._state == _REASONING:
            end = text.find(CLOSE)
            if end < 0:
                held = _held_suffix(text, CLOSE)
                if held:
                    self._pending = text[-held:]
                    text = text[:-held]
                if text:
                    out.append(ReasoningDelta(text))
                return out
            if end:
                out.append(ReasoningDelta(text[:end]))
            self._state = _AFTER_CLOSE
            text = text[end + len(CLOSE) :]
        if self._state == _AFTER_CLOSE:
            text = text.lstrip()
            if not text:
                return out
            self._enter_answer()
        if text:
            out.append(TextDelta(text))
        return out

    def finish(self) -> list[TextDelta | ReasoningDelta]:
        """Release anything held back at end of stream (an unfinished tag is plain text)."""
        pending, self._pending = self._pending, ""
        if not pending:
            return []
        if self._state == _REASONING:
            return [ReasoningDelta(pending)]
        if self._state == _START and pending.strip():
            return [TextDelta(pending)]
        return []

    def _enter_answer(self) -> None:
        self._state = _ANSWER
        self.passthrough = True
