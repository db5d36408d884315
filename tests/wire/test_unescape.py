"""One-pass decoding of escaped v3 text fragments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lyzr_stream.dialects._unescape import FragmentUnescaper, unescape_fragment


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


def test_backslash_ampersand_is_an_ampersand() -> None:
    # The official web client and lyzr-kit undo \& as well.
    assert unescape_fragment("Tom \\& Jerry") == "Tom & Jerry"
    assert unescape_fragment("\\\\&amp;") == "\\&"


@pytest.mark.parametrize("escaped", ["\\ud83d", "a\\udc00b", "\\ude00\\ud83d"])
def test_lone_surrogates_become_replacement_characters(escaped: str) -> None:
    text = unescape_fragment(escaped)
    assert "\ufffd" in text
    text.encode("utf-8")  # never raises


def decode(fragments: list[str]) -> str:
    unescaper = FragmentUnescaper()
    return "".join(unescaper.feed(f) for f in fragments) + unescaper.finish()


@pytest.mark.parametrize(
    ("fragments", "text"),
    [
        (["caf\\u00", "e9"], "café"),
        (["caf\\", "u00e9"], "café"),
        (["\\ud83d", "\\ude00 smile"], "😀 smile"),
        (["\\ud83d\\", "ude00"], "😀"),
        (["a\\", "\\n"], "a\\n"),
        (["a\\\\", "n"], "a\\n"),
        (["Tom &am", "p; Jerry"], "Tom & Jerry"),
        (["x \\&", "amp;"], "x &amp;"),
        (["end \\u00"], "end \\u00"),
        (["end \\"], "end \\"),
        (["end &lt"], "end &lt"),
        (["lone \\ud83d"], "lone \ufffd"),
        (["lone \\ud83d", " then text"], "lone \ufffd then text"),
    ],
)
def test_escapes_cut_between_fragments_decode_whole(fragments: list[str], text: str) -> None:
    assert decode(fragments) == text


def test_only_a_possible_escape_is_held_back() -> None:
    unescaper = FragmentUnescaper()
    assert unescaper.feed("plain") == "plain"
    assert unescaper.feed("caf\\u00") == "caf"
    assert unescaper.held == "\\u00"
    assert unescaper.feed("e9!") == "é!"
    assert unescaper.held == ""


@given(st.text(), st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_any_split_of_an_escaped_text_decodes_as_the_whole(text: str, cuts: list[int]) -> None:
    escaped = _escape_unicode(text)
    points = sorted({c % (len(escaped) + 1) for c in cuts})
    fragments = [escaped[a:b] for a, b in zip([0, *points], [*points, len(escaped)], strict=True)]
    assert decode(fragments) == unescape_fragment(escaped) == text


def _escape_unicode(text: str) -> str:
    """Backslash escapes, non-ASCII as \\uXXXX (surrogate pairs beyond the BMP), &amp; too."""
    out = []
    for ch in _escape(text):
        if ord(ch) < 128:
            out.append(ch)
        else:
            units = ch.encode("utf-16-be", "surrogatepass")
            codes = [int.from_bytes(units[i : i + 2], "big") for i in range(0, len(units), 2)]
            out += [f"\\u{code:04x}" for code in codes]
    return "".join(out)
