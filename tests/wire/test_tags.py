"""<think> and <artifacts> split out anywhere in the answer, across any fragment boundaries."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lyzr_stream._events import Metadata, ReasoningDelta, TextDelta
from lyzr_stream.dialects._tags import SplitEvent, TagSplitter, artifact_entries


def split(fragments: list[str]) -> tuple[str, str, list[Any]]:
    """(answer, reasoning, artifacts) of fragments fed in order."""
    splitter = TagSplitter()
    events: list[SplitEvent] = []
    for fragment in fragments:
        events += splitter.feed(fragment)
    events += splitter.finish()
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    artifacts = [a for e in events if isinstance(e, Metadata) for a in e.data["artifact_files"]]
    assert all(e.kind == "artifacts" for e in events if isinstance(e, Metadata))
    return answer, reasoning, artifacts


def test_tags_cut_across_fragments() -> None:
    answer, reasoning, _ = split(["<thi", "nk>Let me ", "think.</th", "ink>The answer", " is 42."])
    assert (answer, reasoning) == ("The answer is 42.", "Let me think.")


def test_no_block_passes_text_through_at_once() -> None:
    splitter = TagSplitter()
    assert splitter.feed("Hello") == [TextDelta("Hello")]
    assert splitter.passthrough


def test_answer_that_starts_with_angle_bracket_is_released_once_decided() -> None:
    splitter = TagSplitter()
    assert splitter.feed("<") == []
    assert not splitter.passthrough
    assert splitter.feed("b>bold") == [TextDelta("<b>bold")]


def test_think_later_in_the_answer_is_reasoning_too() -> None:
    answer, reasoning, _ = split(["First part. ", "<think>check it", "</think>", " Second part."])
    assert (answer, reasoning) == ("First part.  Second part.", "check it")


def test_several_think_blocks() -> None:
    answer, reasoning, _ = split(["<think>a</think>A", "<think>b</think>B<think>c</th", "ink>C"])
    assert (answer, reasoning) == ("ABC", "abc")


def test_whitespace_around_leading_blocks_is_dropped() -> None:
    answer, reasoning, _ = split(["\n ", "<think>r</think>\n\n", "  ", "A"])
    assert (answer, reasoning) == ("A", "r")


def test_leading_whitespace_without_a_block_is_kept() -> None:
    assert split(["  ", "\nHello"])[0] == "  \nHello"
    assert split(["  "])[0] == "  "


def test_unclosed_think_at_end_is_reasoning() -> None:
    answer, reasoning, _ = split(["<think>still thinking </thi"])
    assert (answer, reasoning) == ("", "still thinking </thi")


def test_unfinished_open_tag_at_end_is_text() -> None:
    assert split(["The tag is <thin"])[0] == "The tag is <thin"
    assert split(["x <artifa"])[0] == "x <artifa"


def test_reasoning_is_not_held_back_beyond_a_possible_tag() -> None:
    splitter = TagSplitter()
    splitter.feed("<think>")
    assert splitter.feed("abc</") == [ReasoningDelta("abc")]
    assert splitter.feed("x") == [ReasoningDelta("</x")]


def test_text_is_not_held_back_beyond_a_possible_tag() -> None:
    splitter = TagSplitter()
    assert splitter.feed("a < b and <b>c</b> <art") == [TextDelta("a < b and <b>c</b> ")]
    assert splitter.feed("ist") == [TextDelta("<artist")]


def test_nested_open_tag_inside_a_block_is_its_text() -> None:
    answer, reasoning, _ = split(["<think>a <think> b</think>c"])
    assert (answer, reasoning) == ("c", "a <think> b")


# -- artifacts ---------------------------------------------------------------------------------
FILES = [{"name": "r.pdf", "file_url": "https://x.invalid/r.pdf", "format_type": "pdf"}]


def test_artifacts_block_is_cut_out_and_parsed() -> None:
    block = f"<artifacts>{json.dumps(FILES)}</artifacts>"
    fragments = ["Here you go:\n", block[:5], block[5:30], block[30:], "!"]
    answer, reasoning, artifacts = split(fragments)
    assert answer == "Here you go:\n!"
    assert artifacts == FILES
    assert reasoning == ""


def test_artifacts_event_comes_when_the_block_closes() -> None:
    splitter = TagSplitter()
    assert splitter.feed("A <artifacts>[{\"a\": 1}") == [TextDelta("A ")]
    assert splitter.feed("]</artifacts>B") == [
        Metadata("artifacts", {"artifact_files": [{"a": 1}]}),
        TextDelta("B"),
    ]


def test_artifact_entry_forms() -> None:
    assert artifact_entries('[{"a": 1}, "note", 3]') == [
        {"a": 1},
        {"content": "note"},
        {"content": 3},
    ]
    assert artifact_entries(' {"a": 1} ') == [{"a": 1}]
    assert artifact_entries("not json") == [{"content": "not json"}]
    assert artifact_entries('"a string"') == [{"content": '"a string"'}]
    assert artifact_entries("  ") == []
    assert artifact_entries("[]") == []


def test_unclosed_artifacts_block_at_end_becomes_an_artifact() -> None:
    answer, _, artifacts = split(["ok <artifacts>[{\"a\": 1}]</artif"])
    assert answer == "ok "
    assert artifacts == [{"content": '[{"a": 1}]</artif'}]


def test_leading_artifacts_then_think_then_answer() -> None:
    answer, reasoning, artifacts = split(
        ["<artifacts>{\"a\": 1}</artifacts>\n", "<think>hm</think>\n", "Answer"]
    )
    assert (answer, reasoning, artifacts) == ("Answer", "hm", [{"a": 1}])


THOUGHT = "Let me think: 2 < 3 and </b> is not a close tag, nor <artifacts."
ANSWER_1 = "The answer is <b>42</b>"
ANSWER_2 = ", see the file. <not a tag> <thinking> <"
MIDDLE = "more thought"
FULL = (
    f"  <think>{THOUGHT}</think>\n{ANSWER_1}<artifacts>{json.dumps(FILES)}</artifacts>"
    f"{ANSWER_2}<think>{MIDDLE}</think>"
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(FULL)), max_size=12))
def test_any_fragmentation_gives_the_same_split(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    fragments = [FULL[a:b] for a, b in zip([0, *points], [*points, len(FULL)], strict=True)]
    answer, reasoning, artifacts = split(fragments)
    assert answer == ANSWER_1 + ANSWER_2
    assert reasoning == THOUGHT + MIDDLE
    assert artifacts == FILES


@given(st.text(alphabet=st.sampled_from(list("ab <>/\n"))))
def test_text_without_tags_comes_out_unchanged(text: str) -> None:
    if "<think>" not in text and "<artifacts>" not in text:
        assert split(list(text))[0] == text
