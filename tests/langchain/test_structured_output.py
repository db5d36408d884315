"""with_structured_output: each method's request and parse; a failure is an error, never None."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage
from pydantic import BaseModel, Field

from lyzr_stream import InvalidRequestError
from lyzr_stream.emulator import Emulator
from tests.helpers.bodies import local_tools
from tests.langchain.conftest import ModelFactory, Person, answer_requests


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_structured_output(make_model: ModelFactory, lyzr_emulator: Emulator, method: str) -> None:
    model = make_model("tool-caller").with_structured_output(Person, method=method)  # type: ignore[arg-type]
    person = model.invoke("Tell me about 'Ada'")
    assert isinstance(person, Person)
    body = lyzr_emulator.requests[-1].json
    if method == "json_schema":
        # lyzr-adk's form: the model's own JSON schema, not OpenAI's json_schema wrapper.
        assert body["response_format"] == Person.model_json_schema()
    else:
        assert local_tools(body)["tools"][0]["name"] == "Person"
        assert person.name == "Ada"


@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
async def test_structured_output_include_raw(make_model: ModelFactory, method: str) -> None:
    schema: Any = (
        Person
        if method != "json_mode"
        else {
            "title": "Joke",
            "type": "object",
            "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}},
        }
    )
    model = make_model("tool-caller").with_structured_output(
        schema,
        method=method,
        include_raw=True,  # type: ignore[arg-type]
    )
    out = await model.ainvoke("A joke with 'setup' and 'punchline' keys")
    assert isinstance(out["raw"], AIMessage)
    assert out["parsing_error"] is None
    if method == "json_mode":
        assert set(out["parsed"]) == {"setup", "punchline"}
    else:
        assert isinstance(out["parsed"], Person)


def test_structured_output_reports_parsing_errors_with_include_raw(
    make_model: ModelFactory,
) -> None:
    class Strict(BaseModel):
        count: int

    # json_mode returns an object without "count": the parser fails, include_raw keeps it.
    model = make_model("tool-caller").with_structured_output(
        Strict, method="json_mode", include_raw=True
    )
    out = model.invoke("no keys here")
    assert out["parsed"] is None
    assert out["parsing_error"] is not None
    assert "answer" in out["raw"].text


def test_structured_output_rejects_unknown_method(make_model: ModelFactory) -> None:
    with pytest.raises(InvalidRequestError, match="method"):
        make_model().with_structured_output(Person, method="xml")  # type: ignore[arg-type]


def test_structured_json_schema_sends_the_raw_schema(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    person = make_model("tool-caller").with_structured_output(Person, method="json_schema")
    assert isinstance(person.invoke("someone"), Person)
    assert answer_requests(lyzr_emulator)[-1].json["response_format"] == Person.model_json_schema()
    as_dict = make_model("tool-caller").with_structured_output(
        Person.model_json_schema(), method="json_schema"
    )
    assert set(as_dict.invoke("someone")) == {"name", "age"}
    assert answer_requests(lyzr_emulator)[-1].json["response_format"]["title"] == "Person"


# -- never None: a failure to parse is an error ------------------------------------------------
@pytest.mark.parametrize("schema", [Person, Person.model_json_schema()])
async def test_structured_output_without_the_tool_call_raises_with_the_text(
    make_model: ModelFactory, schema: Any
) -> None:
    # The echo agent ignores the forced tool and answers in prose.
    model = make_model("echo").with_structured_output(schema)
    with pytest.raises(OutputParserException, match="without calling 'Person'") as info:
        model.invoke("Ada is 36")
    assert info.value.llm_output == "You said: Ada is 36"
    with pytest.raises(OutputParserException):
        await model.ainvoke("Ada is 36")
    with pytest.raises(OutputParserException):
        list(model.stream("Ada is 36"))


async def test_structured_output_without_the_tool_call_include_raw(
    make_model: ModelFactory,
) -> None:
    model = make_model("echo").with_structured_output(Person, include_raw=True)
    for out in (model.invoke("Ada"), await model.ainvoke("Ada")):
        assert out["parsed"] is None
        assert isinstance(out["parsing_error"], OutputParserException)
        assert out["raw"].text == "You said: Ada"


@pytest.mark.parametrize("method", ["json_schema", "json_mode"])
def test_structured_json_that_does_not_fit_raises(make_model: ModelFactory, method: str) -> None:
    class Adult(BaseModel):
        age: int = Field(ge=18)

    model = make_model("tool-caller").with_structured_output(Adult, method=method)  # type: ignore[arg-type]
    with pytest.raises(OutputParserException, match="does not fit Adult"):
        model.invoke("an age")
    raw = make_model("tool-caller").with_structured_output(
        Adult,
        method=method,  # type: ignore[arg-type]
        include_raw=True,
    )
    out = raw.invoke("an age")
    assert out["parsed"] is None and isinstance(out["parsing_error"], OutputParserException)
