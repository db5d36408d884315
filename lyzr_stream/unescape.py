"""One-pass decoding of the escaped plain-text fragments of the Lyzr v3 stream.

The service escapes a fragment's newlines and quotes so it fits on one ``data:`` line; web clients
undo ``\\n \\r \\t \\" \\' \\\\ \\uXXXX`` and the HTML entities ``&quot; &apos; &lt; &gt; &amp;``.
Doing it as a chain of ``str.replace`` calls decodes ``\\\\n`` wrongly (as a newline instead
of a backslash followed by ``n``); a single regular-expression pass reads each escape once.
"""

from __future__ import annotations

import re

__all__ = ["unescape_fragment"]

_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "\\": "\\", "/": "/"}
_ENTITIES = {"quot": '"', "apos": "'", "lt": "<", "gt": ">", "amp": "&"}
_PATTERN = re.compile(r"\\(u[0-9a-fA-F]{4}|.)|&(quot|apos|lt|gt|amp);", re.DOTALL)


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
    if "\\u" in fragment and any("\ud800" <= ch <= "\udfff" for ch in text):
        # \uD83C\uDF0D style surrogate pairs: join them into the real character.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
