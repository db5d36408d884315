"""One-pass decoding of the escaped plain-text fragments of the Lyzr v3 stream.

The service escapes a fragment's newlines and quotes so it fits on one ``data:`` line; the
official clients undo ``\\n \\r \\t \\" \\' \\\\ \\& \\uXXXX`` and the HTML entities
``&quot; &apos; &lt; &gt; &amp;``. Doing it as a chain of ``str.replace`` calls decodes
``\\\\n`` wrongly (as a newline instead of a backslash followed by ``n``); a single
regular-expression pass reads each escape once.

A ``\\uD800``-``\\uDFFF`` escape that is not half of a pair becomes U+FFFD, by the one rule for
lone surrogates (:func:`lyzr_stream._text.replace_lone_surrogates`).

:class:`FragmentUnescaper` decodes a stream of fragments as if they were one text: an escape
cut between two fragments (``\\u00`` + ``e9``, or a surrogate pair ``\\uD83D`` + ``\\uDE00``) is
held back until the next fragment and decoded whole.
"""

from __future__ import annotations

import re

from .._text import replace_lone_surrogates

__all__ = ["FragmentUnescaper", "replace_lone_surrogates", "unescape_fragment"]

_SIMPLE = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "/": "/",
    "&": "&",
}
_ENTITIES = {"quot": '"', "apos": "'", "lt": "<", "gt": ">", "amp": "&"}
_ENTITY_SOURCES = tuple(f"&{name};" for name in _ENTITIES)
_PATTERN = re.compile(r"\\(u[0-9a-fA-F]{4}|.)|&(quot|apos|lt|gt|amp);", re.DOTALL)
#: A trailing escape that may go on in the next fragment: ``\``, ``\u``, ... ``\uXXX``.
_CUT_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?\Z")
#: A complete escape of the first half of a surrogate pair (its second half may follow).
_HIGH_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\Z")


def _replace(match: re.Match[str]) -> str:
    escape = match.group(1)
    if escape is None:
        return _ENTITIES[match.group(2)]
    if len(escape) == 5:
        return chr(int(escape[1:], 16))
    # An unknown escape such as "\x" is kept as written: better visible than silently dropped.
    return _SIMPLE.get(escape, match.group(0))


def unescape_fragment(fragment: str) -> str:
    """Decode one escaped fragment. Text with nothing to decode is returned as is, at once."""
    if "\\" not in fragment and "&" not in fragment:
        return fragment
    text = _PATTERN.sub(_replace, fragment)
    if "\\u" in fragment:
        # \uD83C\uDF0D style surrogate pairs: join them into the real character.
        text = replace_lone_surrogates(text)
    return text


def _escaped(text: str, index: int) -> bool:
    """Whether the character at ``index`` is preceded by an odd run of backslashes."""
    start = index
    while start and text[start - 1] == "\\":
        start -= 1
    return (index - start) % 2 == 1


def held_tail(fragment: str) -> int:
    """How many trailing characters of ``fragment`` may be the start of an escape that the
    next fragment completes (0 when the fragment ends on a whole escape or plain text)."""
    cut = len(fragment)
    slash = fragment.rfind("\\", max(0, cut - 5))
    if slash >= 0 and _CUT_ESCAPE.match(fragment, slash) and not _escaped(fragment, slash):
        cut = slash
    else:
        amp = fragment.rfind("&", max(0, cut - 5))
        if amp >= 0 and not _escaped(fragment, amp):
            tail = fragment[amp:]
            if any(source.startswith(tail) and source != tail for source in _ENTITY_SOURCES):
                cut = amp
    # The first half of a surrogate pair waits for its second half.
    high = _HIGH_SURROGATE_ESCAPE.search(fragment, max(0, cut - 6), cut)
    if high is not None and not _escaped(fragment, high.start()):
        cut = high.start()
    return len(fragment) - cut


class FragmentUnescaper:
    """Decodes the fragments of one stream in order, as if they were one escaped text.

    ``feed`` returns what can be decoded now; an escape cut at the end of a fragment is held
    back (at most a few characters) and decoded with the next one. ``finish`` releases what is
    still held at end of stream: an unfinished escape stays as written (``\\u00``), a lone first
    half of a surrogate pair becomes U+FFFD.
    """

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = ""

    def feed(self, fragment: str) -> str:
        if self.held:
            fragment = self.held + fragment
            self.held = ""
        elif "\\" not in fragment and "&" not in fragment:
            return fragment
        keep = held_tail(fragment)
        if keep:
            self.held = fragment[-keep:]
            fragment = fragment[:-keep]
        return unescape_fragment(fragment)

    def finish(self) -> str:
        held, self.held = self.held, ""
        return unescape_fragment(held)
