"""One rule for the JSON in an agent's text answer, for ChatLyzr and LyzrLLM alike
(``lyzr_stream/_adapters/structured.py``, ``json_in_text``): the whole answer, else each Markdown
fence with any language tag or none, else the first JSON object or array inside prose.

The table is asserted on the rule itself and on what each framework makes of it (ChatLyzr's
``answer_json``, which its structured-output parser uses; LyzrLLM's ``parse_structured``);
then one answer from the emulator is read by each framework, to the same object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from pydantic import BaseModel, RootModel

from langchain_lyzr_stream import ChatLyzr
from langchain_lyzr_stream._structured import JsonAnswerParser, answer_json
from llamaindex_lyzr_stream import LyzrLLM
from llamaindex_lyzr_stream._convert import parse_structured
from lyzr_stream import APIResponseValidationError
from lyzr_stream._adapters.structured import NoJsonError, json_in_text
from lyzr_stream.emulator import Emulator

INVOICE = {"customer": "ACME", "total": 2}
DOC = '{"customer": "ACME", "total": 2}'

#: (case, answer, the value read)
TABLE: list[tuple[str, str, Any]] = [
    ("bare JSON", f"  {DOC}\n", INVOICE),
    ("```json fence", f"Here it is:\n```json\n{DOC}\n```\nAnything else?", INVOICE),
    ("``` fence", f"Here it is:\n```\n{DOC}\n```", INVOICE),
    ("```JSON fence", f"```JSON\n{DOC}\n```", INVOICE),
    ("```javascript fence", f"```javascript\n{DOC}\n```", INVOICE),
    ("fence without newline", f"```json{DOC}```", INVOICE),
    ("JSON inside prose", f"Sure! {DOC} -- hope that helps.", INVOICE),
    ("array", '[1, 2, {"a": null}]', [1, 2, {"a": None}]),
    ("fenced array", "```json\n[1, 2]\n```", [1, 2]),
    # The order of the rule:
    ("a fence before earlier prose JSON", f"See [1].\n```javascript\n{DOC}\n```", INVOICE),
    ("a document whose string holds a fence", '{"code": "```json\\n[1]\\n```"}',
     {"code": "```json\n[1]\n```"}),
    ("the first fence that parses", f"```text\nnot json\n```\n```json\n{DOC}\n```", INVOICE),
    ("prose: the first opener that parses", f"Thinking {{not json}} then {DOC}.", INVOICE),
    ("an unclosed fence reads as prose", f"```json\n{DOC}", INVOICE),
]
NO_JSON = ["I cannot do invoices.", "{broken", "", "```json\nnot json\n```"]


class AnyJson(RootModel[Any]):
    """Whatever JSON value LyzrLLM's parser finds (``parse_structured`` needs a model)."""


def _langchain(text: str) -> Any:
    return answer_json(text)


def _llamaindex(text: str) -> Any:
    return parse_structured(text, AnyJson).root


READERS: dict[str, Callable[[str], Any]] = {
    "rule": json_in_text,
    "ChatLyzr": _langchain,
    "LyzrLLM": _llamaindex,
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize(("case", "text", "value"), TABLE, ids=[row[0] for row in TABLE])
def test_one_rule(reader: str, case: str, text: str, value: Any) -> None:
    assert READERS[reader](text) == value


@pytest.mark.parametrize("text", NO_JSON)
def test_no_json(text: str) -> None:
    with pytest.raises(NoJsonError, match="holds no JSON") as info:
        json_in_text(text)
    assert isinstance(info.value, ValueError)
    assert info.value.text == text
    # ChatLyzr: LangChain's parser error, carrying the whole answer.
    with pytest.raises(OutputParserException, match="holds no JSON") as lc:
        answer_json(text)
    assert lc.value.llm_output == text
    # LyzrLLM: a plain ValueError naming the schema and the answer.
    with pytest.raises(ValueError, match=r"structured output for AnyJson: .*holds no JSON"):
        parse_structured(text, AnyJson)


# -- both frameworks read one fenced answer from the agent alike -----------------------------------
class Invoice(BaseModel):
    customer: str
    total: float


#: The echo agent answers "You said: <this>": prose with a JSON array before a javascript fence.
FENCED = f"See [1].\n```javascript\n{DOC}\n```"


def test_chatlyzr_reads_a_fenced_answer(lyzr_emulator: Emulator) -> None:
    model = ChatLyzr(
        agent_id="echo", api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url
    )
    assert model.invoke(FENCED).text == f"You said: {FENCED}"
    # What with_structured_output(method="json_mode" / "json_schema") does with the answer.
    chain = model | JsonAnswerParser(schema_model=Invoice)
    assert chain.invoke(FENCED) == Invoice(customer="ACME", total=2)


def test_lyzrllm_reads_the_same_fenced_answer(lyzr_emulator: Emulator) -> None:
    from llama_index.core.base.llms.types import ChatMessage, MessageRole

    llm = LyzrLLM(agent_id="echo", api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url)
    response = llm.chat([ChatMessage(role=MessageRole.USER, content=FENCED)])
    assert response.message.content == f"You said: {FENCED}"
    # What structured_predict(structured_output="response_format") does with the answer.
    parsed = LyzrLLM._structured_result(Invoice, response)
    assert parsed == Invoice(customer="ACME", total=2)


@pytest.mark.parametrize(
    "answer",
    ["[" * 200_000, "{\"a\":" * 200_000, "Sure! " + "[" * 200_000 + "1" + "]" * 200_000],
)
def test_deep_json_in_an_answer_is_a_typed_error(answer: str) -> None:
    with pytest.raises(APIResponseValidationError, match="deeper than"):
        json_in_text(answer)


def test_a_lone_surrogate_in_an_answer_is_replaced() -> None:
    assert json_in_text('{"name": "\\ud83d"}') == {"name": "\ufffd"}
    assert json_in_text('Sure! {"name": "\\ud83d"} ok') == {"name": "\ufffd"}
