"""One-pass decoding of escaped v3 text fragments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyzr_stream.unescape import unescape_fragment


@pytest.mark.parametrize(
    ("escaped", "text"),
    [
        ("plain text", "plain text"),
        ("line\\nbreak", "line\nbreak"),
        ("tab\\tcr\\r", "tab\tcr\r"),
        ('say \\"hi\\"', 'say "hi"'),
        ("it\\'s", "it's"),
        ("back\\\\slash", "back\\slash"),
        ("\\\\n is not a newline", "\\n is not a newline"),
        ("caf\\u00e9", "café"),
        ("\\ud83c\\udf0d", "🌍"),
        ("&quot;q&quot; &apos;a&apos; &lt;b&gt; &amp;", "\"q\" 'a' <b> &"),
        ("&amp;lt; stays one level", "&lt; stays one level"),
        ("unknown \\x escape", "unknown \\x escape"),
        ("trailing backslash \\", "trailing backslash \\"),
    ],
)
def test_unescape(escaped: str, text: str) -> None:
    assert unescape_fragment(escaped) == text


def _escape(text: str) -> str:
    table = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "&": "&amp;"}
    return "".join(table.get(ch, ch) for ch in text)


@given(st.text())
def test_escape_then_unescape_is_identity(text: str) -> None:
    assert unescape_fragment(_escape(text)) == text
