"""What ordinary LangChain code expects of a chat model: token counting without a tokenizer,
``model=``, structured output that never answers ``None``, timing on every path, serialisation
as the README shows it, unknown tools handed to the agent loop, failed tools as ``Error: ...``."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    trim_messages,
)
from langchain_core.outputs import ChatGeneration
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from langchain_lyzr_stream import ChatLyzr
from langchain_lyzr_stream._structured import JsonAnswerParser
from lyzr_stream import InvalidRequestError
from lyzr_stream.emulator import Emulator
from tests.conftest import FAKE_KEY

from .conftest import ModelFactory, answer_requests


class Person(BaseModel):
    """A person."""

    name: str = Field(description="the person's name")
    age: int = Field(description="the person's age in years")


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


# -- token counting ---------------------------------------------------------------------------
def test_token_counting_needs_no_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hide transformers, as in an environment without it: the counts must not need it.
    monkeypatch.setitem(sys.modules, "transformers", None)
    model = ChatLyzr(agent_id="a", api_key=FAKE_KEY)
    assert model.get_num_tokens("") == 0
    assert model.get_num_tokens("abcd" * 10) == 10
    history = [SystemMessage("be brief"), HumanMessage("hello " * 50), AIMessage("hi " * 50)]
    total = model.get_num_tokens_from_messages(history)
    assert total > model.get_num_tokens_from_messages(history[:1]) > 0
    assert model.get_num_tokens_from_messages(history[:2], tools=[add]) > (
        model.get_num_tokens_from_messages(history[:2])
    )
    trimmed = trim_messages(
        history, max_tokens=total // 2, token_counter=model, strategy="last", include_system=True
    )
    assert trimmed[0] == history[0] and len(trimmed) < len(history)


# -- model= is the agent ------------------------------------------------------------------------
def test_model_is_an_alias_of_agent_id(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    model = ChatLyzr(model="memory", api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url)
    assert model.agent_id == model.model_name == "memory"
    assert model.invoke("hi").response_metadata["agent_id"] == "memory"
    assert answer_requests(lyzr_emulator)[-1].json["agent_id"] == "memory"


def test_model_and_agent_id_must_agree() -> None:
    with pytest.raises(InvalidRequestError, match="alias"):
        ChatLyzr(model="a", agent_id="b", api_key=FAKE_KEY)
    assert ChatLyzr(model="a", agent_id="a", api_key=FAKE_KEY).agent_id == "a"


# -- timing on every path -----------------------------------------------------------------------
@pytest.mark.parametrize("streaming", [False, True])
async def test_timing_keys_on_invoke(make_model: ModelFactory, streaming: bool) -> None:
    model = make_model(**({"streaming": True} if streaming else {}))
    for meta in (model.invoke("x").response_metadata, (await model.ainvoke("x")).response_metadata):
        assert meta["total_time"] > 0
        assert 0 < meta["time_to_first_token"] <= meta["total_time"]
        if not streaming:  # a whole answer: its first token arrives with all of it
            assert meta["time_to_first_token"] == meta["total_time"]


# -- structured output never answers None -------------------------------------------------------
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


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Ada", "age": 36}',
        '```json\n{"name": "Ada", "age": 36}\n```',
        'Here it is:\n```\n{"name": "Ada", "age": 36}\n```\nAnything else?',
        'Sure! {"name": "Ada", "age": 36} is the person you asked about.',
        'Thinking {not json} then {"name": "Ada", "age": 36}.',
    ],
)
def test_json_is_found_in_fences_and_prose(text: str) -> None:
    parser = JsonAnswerParser(schema_model=Person)
    assert parser.invoke(AIMessage(text)) == Person(name="Ada", age=36)


@pytest.mark.parametrize("text", ["no json here", "{broken", ""])
def test_no_json_is_a_parser_error_carrying_the_text(text: str) -> None:
    with pytest.raises(OutputParserException, match="holds no JSON") as info:
        JsonAnswerParser().parse_result([ChatGeneration(message=AIMessage(text))])
    assert info.value.llm_output == text


# -- unknown tools go to the agent loop; failed tools go back as "Error: ..." -------------------
@pytest.mark.parametrize("streaming", [False, True])
def test_create_agent_answers_an_unknown_tool_itself(
    make_model: ModelFactory, lyzr_emulator: Emulator, streaming: bool
) -> None:
    from langchain.agents import create_agent

    model = make_model("tool-caller-unknown", **({"streaming": True} if streaming else {}))
    agent = create_agent(model, tools=[add])
    result = agent.invoke({"messages": [HumanMessage("add(1, 2)")]})
    kinds = [type(m).__name__ for m in result["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    call, error = result["messages"][1], result["messages"][2]
    assert call.tool_calls[0]["name"] == "not_a_bound_tool"
    assert error.status == "error" and "not_a_bound_tool" in error.text
    # The error went back to the agent as lyzr-adk sends one, and the agent answered.
    sent = answer_requests(lyzr_emulator)[-1].json["messages"][-1]
    assert sent["role"] == "tool" and sent["content"].startswith("Error: ")
    assert result["messages"][-1].text.startswith("Using the tool results:")


def test_tool_error_status_goes_back_as_error_content(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("tool-caller").bind_tools([add])
    first = model.invoke("add(1, 2)")
    call_id = first.tool_calls[0]["id"]
    for content, sent in (
        ("the calculator is offline", "Error: the calculator is offline"),
        ("Error: already prefixed", "Error: already prefixed"),
    ):
        failed = ToolMessage(content, tool_call_id=call_id, name="add", status="error")
        model.invoke([HumanMessage("add(1, 2)"), first, failed])
        assert answer_requests(lyzr_emulator)[-1].json["messages"][-1]["content"] == sent
    ok = ToolMessage("3", tool_call_id=call_id, name="add")
    model.invoke([HumanMessage("add(1, 2)"), first, ok])
    assert answer_requests(lyzr_emulator)[-1].json["messages"][-1]["content"] == "3"


# -- serialisation as the README shows it -------------------------------------------------------
def test_readme_serialisation_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_core.load import dumpd, load

    monkeypatch.delenv("LYZR_API_KEY", raising=False)
    model = ChatLyzr(agent_id="a1", api_key=FAKE_KEY, session_id="s")
    data = dumpd(model)
    assert data["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["LYZR_API_KEY"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clone = load(
            data,
            secrets_map={"LYZR_API_KEY": FAKE_KEY},
            valid_namespaces=["langchain_lyzr_stream"],
            allowed_objects=[ChatLyzr],
        )
    assert isinstance(clone, ChatLyzr)
    assert (clone.agent_id, clone.session_id) == ("a1", "s")
    assert clone.api_key is not None and clone.api_key.get_secret_value() == FAKE_KEY
