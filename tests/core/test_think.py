"""<think> splitting across arbitrary fragment boundaries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lyzr_stream.events import ReasoningDelta, TextDelta
from lyzr_stream.think import ThinkSplitter


def split(fragments: list[str]) -> tuple[str, str, list[TextDelta | ReasoningDelta]]:
    splitter = ThinkSplitter()
    events: list[TextDelta | ReasoningDelta] = []
    for fragment in fragments:
        events += splitter.feed(fragment)
    events += splitter.finish()
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    return answer, reasoning, events


def test_tags_cut_across_fragments() -> None:
    answer, reasoning, _ = split(["<thi", "nk>Let me ", "think.</th", "ink>The answer", " is 42."])
    assert (answer, reasoning) == ("The answer is 42.", "Let me think.")


def test_no_think_block_passes_text_through_at_once() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("Hello") == [TextDelta("Hello")]
    assert splitter.passthrough


def test_answer_that_starts_with_angle_bracket_is_released_once_decided() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<") == []
    assert splitter.feed("b>bold") == [TextDelta("<b>bold")]


def test_think_later_in_the_answer_is_plain_text() -> None:
    answer, reasoning, _ = split(["Use ", "<think>tags</think>", " like this"])
    assert answer == "Use <think>tags</think> like this"
    assert reasoning == ""


def test_whitespace_after_close_tag_is_dropped() -> None:
    answer, reasoning, _ = split(["<think>r</think>\n\n", "  ", "A"])
    assert (answer, reasoning) == ("A", "r")


def test_unclosed_think_at_end_is_reasoning() -> None:
    answer, reasoning, _ = split(["<think>still thinking </thi"])
    assert (answer, reasoning) == ("", "still thinking </thi")


def test_reasoning_is_not_held_back_beyond_a_possible_tag() -> None:
    splitter = ThinkSplitter()
    splitter.feed("<think>")
    assert splitter.feed("abc</") == [ReasoningDelta("abc")]
    assert splitter.feed("x") == [ReasoningDelta("</x")]


THOUGHT = "Let me think: 2 < 3 and </b> is not a close tag."
ANSWER = "The answer is <b>42</b>."


@given(st.lists(st.integers(min_value=0, max_value=80), max_size=10))
def test_any_fragmentation_gives_the_same_split(cuts: list[int]) -> None:
    full = f"<think>{THOUGHT}</think>\n{ANSWER}"
    points = sorted({c % (len(full) + 1) for c in cuts})
    fragments = [full[a:b] for a, b in zip([0, *points], [*points, len(full)], strict=True)]
    answer, reasoning, _ = split(fragments)
    assert (answer, reasoning) == (ANSWER, THOUGHT)
