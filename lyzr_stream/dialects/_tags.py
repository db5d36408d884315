"""Cuts ``<think>`` and ``<artifacts>`` blocks out of the answer text, fragment by fragment.

Agents write two kinds of tagged blocks inside their answer, and the official Lyzr clients show
both apart from it:

- ``<think>...</think>``: reasoning. It becomes :class:`~lyzr_stream._events.ReasoningDelta`
  events, streamed as it comes.
- ``<artifacts>[JSON]</artifacts>``: files or objects the agent produced. The block is held
  until it closes, then becomes one :class:`~lyzr_stream._events.Metadata` event of kind
  ``"artifacts"`` whose ``artifact_files`` lists the entries, the same key under which the
  service reports ``module_outputs.artifact_files`` (so they end up in
  ``AgentResponse.artifacts``). A JSON list gives one artifact per entry (an entry that is not
  an object is kept as ``{"content": entry}``); a JSON object is one artifact; anything else
  (not JSON, a string, a number) is one artifact ``{"content": "<the block's text>"}``. An
  empty block gives none.

Both are matched anywhere in the answer, as the official clients do, and the tags may be cut
anywhere across fragments (``"<thi" + "nk>"``): the splitter holds back only the few characters
that could still be the start of a tag, and nothing else. Tags are matched exactly
(lowercase, no attributes); inside a block only its own closing tag ends it. An unclosed block
at end of stream keeps what it had: reasoning stays reasoning, an artifacts block becomes an
artifact. An unfinished tag at end of stream is plain text.

Whitespace: while no answer text has been produced, whitespace around leading blocks is dropped
(``"<think>r</think>\\n\\nAnswer"`` answers ``"Answer"``); whitespace around a block later in
the answer is kept as sent. An answer without any block is passed through unchanged.
"""

from __future__ import annotations

from typing import Any

from .._errors import APIResponseValidationError
from .._events import Metadata, ReasoningDelta, TextDelta
from .._json import NOT_JSON, decode_or_text

__all__ = ["SplitEvent", "TagSplitter", "artifact_entries"]

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
ARTIFACTS_OPEN = "<artifacts>"
ARTIFACTS_CLOSE = "</artifacts>"

_TEXT, _THINK, _ARTIFACTS = range(3)

SplitEvent = TextDelta | ReasoningDelta | Metadata


def _is_open_prefix(tail: str) -> bool:
    """Whether ``tail`` (starting with ``<``) may still become an opening tag."""
    return THINK_OPEN.startswith(tail) or ARTIFACTS_OPEN.startswith(tail)


def artifact_entries(block: str) -> list[dict[str, Any]]:
    """The artifacts of one ``<artifacts>`` block's text (see the module docstring)."""
    body = block.strip()
    if not body:
        return []
    try:
        value = decode_or_text(body, what="an <artifacts> block")
    except APIResponseValidationError:  # too large or too deep to read: kept as text
        value = NOT_JSON
    if value is NOT_JSON:
        return [{"content": body}]
    if isinstance(value, list):
        return [entry if isinstance(entry, dict) else {"content": entry} for entry in value]
    if isinstance(value, dict):
        return [value]
    return [{"content": body}]


class TagSplitter:
    """Feed answer fragments in order; get ``TextDelta`` / ``ReasoningDelta`` / ``Metadata``.

    ``passthrough`` is true while a fragment without ``<`` is answer text as it stands (no
    block open, nothing held back, the answer has begun): a hot loop may then skip :meth:`feed`
    for such a fragment, and must call it for any other.
    """

    __slots__ = ("_answered", "_block", "_lead", "_mode", "_pending", "_tagged", "passthrough")

    def __init__(self) -> None:
        self._mode = _TEXT
        self._pending = ""  # a possible tag cut at the end of the last fragment
        self._lead = ""  # leading whitespace, held until we know whether a block follows it
        self._answered = False  # some answer text has been produced
        self._tagged = False  # a block came before the answer text
        self._block: list[str] = []  # the text of an open artifacts block
        self.passthrough = False

    def feed(self, text: str) -> list[SplitEvent]:
        out: list[SplitEvent] = []
        if self._pending:
            text = self._pending + text
            self._pending = ""
        pos = 0
        size = len(text)
        while pos < size:
            if self._mode == _TEXT:
                pos = self._scan_text(text, pos, out)
            elif self._mode == _THINK:
                pos = self._scan_block(text, pos, THINK_CLOSE, out)
            else:
                pos = self._scan_block(text, pos, ARTIFACTS_CLOSE, out)
        self.passthrough = self._mode == _TEXT and self._answered and not self._pending
        return out

    def finish(self) -> list[SplitEvent]:
        """Release anything held back at end of stream."""
        out: list[SplitEvent] = []
        pending, self._pending = self._pending, ""
        if self._mode == _THINK:
            if pending:
                out.append(ReasoningDelta(pending))
        elif self._mode == _ARTIFACTS:
            self._block.append(pending)
            self._close_artifacts(out)
        else:
            self._text(pending, out)
            if self._lead and not self._tagged:
                out.append(TextDelta(self._lead))
        self._lead = ""
        self._mode = _TEXT
        return out

    def _scan_text(self, text: str, pos: int, out: list[SplitEvent]) -> int:
        """Answer text from ``pos`` up to the next opening tag (consumed); returns the new
        position."""
        search = pos
        while True:
            lt = text.find("<", search)
            if lt < 0:
                self._text(text[pos:], out)
                return len(text)
            if text.startswith(THINK_OPEN, lt):
                self._open(text[pos:lt], _THINK, out)
                return lt + len(THINK_OPEN)
            if text.startswith(ARTIFACTS_OPEN, lt):
                self._open(text[pos:lt], _ARTIFACTS, out)
                return lt + len(ARTIFACTS_OPEN)
            if len(text) - lt < len(ARTIFACTS_OPEN) and _is_open_prefix(text[lt:]):
                self._text(text[pos:lt], out)
                self._pending = text[lt:]
                return len(text)
            search = lt + 1

    def _scan_block(self, text: str, pos: int, close: str, out: list[SplitEvent]) -> int:
        end = text.find(close, pos)
        if end < 0:
            # Only the last "<" can start a cut closing tag (the tag holds no other "<").
            lt = text.rfind("<", max(pos, len(text) - len(close) + 1))
            stop = lt if lt >= 0 and close.startswith(text[lt:]) else len(text)
            self._pending = text[stop:]
            self._block_text(text[pos:stop], out)
            return len(text)
        self._block_text(text[pos:end], out)
        if self._mode == _ARTIFACTS:
            self._close_artifacts(out)
        self._mode = _TEXT
        return end + len(close)

    def _block_text(self, text: str, out: list[SplitEvent]) -> None:
        if not text:
            return
        if self._mode == _THINK:
            out.append(ReasoningDelta(text))
        else:
            self._block.append(text)

    def _close_artifacts(self, out: list[SplitEvent]) -> None:
        entries = artifact_entries("".join(self._block))
        self._block = []
        if entries:
            out.append(Metadata("artifacts", {"artifact_files": entries}))

    def _open(self, before: str, mode: int, out: list[SplitEvent]) -> None:
        self._text(before, out)
        if not self._answered:
            self._lead = ""
            self._tagged = True
        self._mode = mode

    def _text(self, text: str, out: list[SplitEvent]) -> None:
        if not text:
            return
        if self._answered:
            out.append(TextDelta(text))
            return
        if self._tagged:
            text = text.lstrip()
        elif self._lead:
            text = self._lead + text
        if not text.strip():
            if not self._tagged:
                self._lead = text
            return
        self._lead = ""
        self._answered = True
        out.append(TextDelta(text))
