"""One stop rule on every path: a per-call stop list replaces the instance's; held text kept."""

from __future__ import annotations

import pytest

from langchain_lyzr_stream import ChatLyzr
from tests.langchain.conftest import ModelFactory

PROMPT = "hello world again"


async def _text(model: ChatLyzr, path: str, stop: list[str] | None) -> str:
    if path == "invoke":
        return model.invoke(PROMPT, stop=stop).text
    if path == "ainvoke":
        return (await model.ainvoke(PROMPT, stop=stop)).text
    if path == "stream":
        return "".join(c.text for c in model.stream(PROMPT, stop=stop))
    return "".join([c.text async for c in model.astream(PROMPT, stop=stop)])


PATHS = ["invoke", "ainvoke", "stream", "astream"]


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        ([], "You said: hello world again"),  # a per-call list, empty too, replaces the instance's
        (None, "You said: hello "),  # no per-call stop: the instance's applies
        (["again"], "You said: hello world "),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize("path", PATHS)
async def test_one_stop_rule_on_every_path(
    make_model: ModelFactory, path: str, streaming: bool, stop: list[str] | None, expected: str
) -> None:
    # (streaming=False given explicitly would make LangChain's stream() call invoke instead)
    model = make_model(stop=["world"], **({"streaming": True} if streaming else {}))
    assert await _text(model, path, stop) == expected


@pytest.mark.parametrize("path", PATHS)
async def test_text_held_at_the_end_for_a_possible_stop_is_delivered(
    make_model: ModelFactory, path: str
) -> None:
    # The answer ends with "wor", which could have been the start of "world".
    model = make_model(stop=["world"], **({"streaming": True} if path.endswith("invoke") else {}))
    if path == "invoke":
        out = model.invoke("it ends in wor").text
    elif path == "ainvoke":
        out = (await model.ainvoke("it ends in wor")).text
    elif path == "stream":
        out = "".join(c.text for c in model.stream("it ends in wor"))
    else:
        out = "".join([c.text async for c in model.astream("it ends in wor")])
    assert out == "You said: it ends in wor"


def test_stop_sequences_cut_the_answer(make_model: ModelFactory) -> None:
    assert make_model().invoke("a b STOP c", stop=["STOP"]).content == "You said: a b "
    chunks = list(make_model().stream("a b STOP c", stop=["STOP"]))
    assert "".join(c.text for c in chunks) == "You said: a b "
    assert make_model(stop=["b"]).invoke("a b").content == "You said: a "
