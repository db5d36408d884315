"""Client-side stop sequences: the answer cut at the first stop, however the text arrives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lyzr_stream._adapters.stop_sequences import StopFilter, cut_at_stop


def test_cut_at_stop() -> None:
    assert cut_at_stop("hello you there", ["you", "xx"]) == ("hello ", True)
    assert cut_at_stop("hello", ["you"]) == ("hello", False)
    assert cut_at_stop("hello", []) == ("hello", False)


def test_stop_filter_holds_only_a_possible_prefix() -> None:
    f = StopFilter(["STOP"])
    assert f.feed("abc ST") == "abc "
    assert f.feed("x") == "STx"
    assert f.feed(" ST") == " "
    assert f.feed("OP rest") == ""
    assert f.stopped
    assert f.feed("more") == ""


@given(st.text(alphabet="abS TOP", max_size=40), st.lists(st.integers(0, 40), max_size=6))
def test_stop_filter_any_fragmentation_equals_whole_cut(text: str, cuts: list[int]) -> None:
    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    f = StopFilter(["STOP", "TT"])
    out = "".join(f.feed(p) for p in pieces) + f.finish()
    assert out == cut_at_stop(text, ["STOP", "TT"])[0]
