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
from tests.langchain.conftest import ModelFactory, Person, add, answer_requests


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


# -- create_agent(response_format=...): the profile picks the provider strategy (issue 26) ------
def test_the_profile_declares_structured_output_and_tools(make_model: ModelFactory) -> None:
    from langchain.agents.factory import _supports_provider_strategy

    model = make_model()
    assert model.profile is not None
    assert model.profile.get("structured_output") is True
    assert model.profile.get("tool_calling") is True
    assert model.profile.get("tool_choice") is True
    assert _supports_provider_strategy(model, tools=[add])
    # An explicit profile wins; the profile is not part of the serialised model.
    assert make_model(profile={"structured_output": False}).profile == {"structured_output": False}
    assert "profile" not in model.model_dump()


@pytest.mark.parametrize("dialect", ["lyzr-v2", "aisquare", "chat-messages"])
def test_the_profile_of_a_message_only_dialect_declares_neither(
    make_model: ModelFactory, dialect: str
) -> None:
    # These formats carry only the message: no tools, no response_format to send.
    profile = make_model(dialect=dialect).profile
    assert profile == {"tool_calling": False, "tool_choice": False, "structured_output": False}


def _tool_then_json(em: Emulator) -> None:
    """The two agent calls of a run: the tool and the schema sent together, the tool called,
    its result sent back with the schema again, and the JSON answer."""
    first, second = (r.json for r in answer_requests(em))
    for body in (first, second):
        assert body["response_format"] == Person.model_json_schema()  # lyzr-adk's form
        assert [t["name"] for t in local_tools(body)["tools"]] == ["add"]
        assert local_tools(body).get("tool_choice") is None  # nothing forced
    assert first["messages"][-1] == {"role": "user", "content": "What is add(19, 23)? Ada"}
    result = second["messages"][-1]
    assert result["role"] == "tool" and result["content"] == "42"


@pytest.mark.parametrize("streaming", [False, True])
def test_create_agent_with_response_format_returns_the_structured_response(
    make_model: ModelFactory, lyzr_emulator: Emulator, streaming: bool
) -> None:
    from langchain.agents import create_agent

    agent = create_agent(
        make_model("tool-caller", streaming=streaming), tools=[add], response_format=Person
    )
    result = agent.invoke({"messages": [("user", "What is add(19, 23)? Ada")]})
    assert result["structured_response"] == Person(name="lyzr", age=1)  # the emulator's JSON
    kinds = [type(m).__name__ for m in result["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert result["messages"][2].text == "42"
    _tool_then_json(lyzr_emulator)


async def test_create_agent_with_response_format_async(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    from langchain.agents import create_agent

    agent = create_agent(make_model("tool-caller"), tools=[add], response_format=Person)
    result = await agent.ainvoke({"messages": [("user", "What is add(19, 23)? Ada")]})
    assert result["structured_response"] == Person(name="lyzr", age=1)
    _tool_then_json(lyzr_emulator)


def test_create_agent_with_response_format_and_no_tools(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    from langchain.agents import create_agent

    schema = Person.model_json_schema()
    agent = create_agent(make_model("echo"), tools=[], response_format=schema)
    result = agent.invoke({"messages": [("user", "Who is Ada?")]})
    assert result["structured_response"] == {"name": "lyzr", "age": 1}
    (body,) = (r.json for r in answer_requests(lyzr_emulator))
    assert body["response_format"] == schema
    assert "features" not in body


def test_a_bound_openai_response_format_goes_out_as_the_raw_schema(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    # The form create_agent's provider strategy binds: unwrapped, as lyzr-adk sends it.
    wrapped = {
        "type": "json_schema",
        "json_schema": {"name": "Person", "schema": Person.model_json_schema()},
    }
    message = make_model("echo").bind(response_format=wrapped).invoke("Who is Ada?")
    assert Person.model_validate_json(message.text) == Person(name="lyzr", age=1)
    body = answer_requests(lyzr_emulator)[-1].json
    assert body["response_format"] == Person.model_json_schema()
    json_mode = make_model("echo").bind(response_format={"type": "json_object"})
    json_mode.invoke("'answer'")
    assert answer_requests(lyzr_emulator)[-1].json["response_format"] == {"type": "json_object"}


def test_bind_tools_accepts_strict_and_sends_nothing_for_it(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    # langchain 1.2's provider strategy binds strict=True, as ChatOpenAI takes it.
    message = make_model("tool-caller").bind_tools([add], strict=True).invoke("add(1, 2)")
    assert message.tool_calls[0]["args"] == {"a": 1, "b": 2}
    body = answer_requests(lyzr_emulator)[-1].json
    assert "strict" not in body and "strict" not in local_tools(body)
