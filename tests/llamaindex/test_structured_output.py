"""Structured output in LlamaIndex: the schema as a tool or as response_format, the JSON parsed."""

from __future__ import annotations

import json

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel, Field

from llamaindex_lyzr_stream._convert import parse_structured
from lyzr_stream import InvalidRequestError
from lyzr_stream._adapters.structured import json_in_text, raw_json_schema
from lyzr_stream.emulator import Emulator
from tests.helpers.bodies import agent_bodies, local_tools
from tests.llamaindex.conftest import LLMFactory


class Invoice(BaseModel):
    """An invoice."""

    customer: str
    total: float


PROMPT = PromptTemplate("Make an invoice for '{name}'")


# -- the schema as a local tool ----------------------------------------------------------------
def test_structured_predict(make_llm: LLMFactory) -> None:
    llm = make_llm("tool-caller")
    invoice = llm.structured_predict(
        Invoice, PromptTemplate("Make an invoice for '{name}'"), name="ACME"
    )
    assert invoice == Invoice(customer="ACME", total=1.5)


async def test_astructured_predict(make_llm: LLMFactory) -> None:
    llm = make_llm("tool-caller")
    invoice = await llm.astructured_predict(
        Invoice, PromptTemplate("Make an invoice for '{name}'"), name="Initech"
    )
    assert invoice.customer == "Initech"


def test_stream_structured_predict_fills_the_object(make_llm: LLMFactory) -> None:
    # LlamaIndex's streaming program reads additional_kwargs["tool_calls"] (issue 14 item 3).
    llm = make_llm("tool-caller")
    outputs = list(llm.stream_structured_predict(Invoice, PROMPT, name="ACME"))
    assert outputs and outputs[-1] == Invoice(customer="ACME", total=1.5)


async def test_astream_structured_predict_fills_the_object(make_llm: LLMFactory) -> None:
    llm = make_llm("tool-caller")
    stream = await llm.astream_structured_predict(Invoice, PROMPT, name="Initech")
    outputs = [o async for o in stream]
    assert outputs and outputs[-1] == Invoice(customer="Initech", total=1.5)


def test_structured_llm_stream_chat(make_llm: LLMFactory) -> None:
    structured = make_llm("tool-caller").as_structured_llm(Invoice)
    question = [ChatMessage(role=MessageRole.USER, content="Make an invoice for 'ACME'")]
    responses = list(structured.stream_chat(question))
    assert responses[-1].raw == Invoice(customer="ACME", total=1.5)
    assert json.loads(responses[-1].message.content or "") == {"customer": "ACME", "total": 1.5}


async def test_structured_llm_astream_chat(make_llm: LLMFactory) -> None:
    structured = make_llm("tool-caller").as_structured_llm(Invoice)
    question = [ChatMessage(role=MessageRole.USER, content="Make an invoice for 'Umbrella'")]
    responses = [r async for r in await structured.astream_chat(question)]
    assert responses[-1].raw == Invoice(customer="Umbrella", total=1.5)


def test_structured_output_without_a_tool_call_is_a_clear_error(make_llm: LLMFactory) -> None:
    llm = make_llm("echo")  # answers in text, never calls the tool
    with pytest.raises(ValueError, match="You said: Make an invoice for 'ACME'"):
        llm.structured_predict(Invoice, PROMPT, name="ACME")


async def test_async_structured_output_without_a_tool_call_is_a_clear_error(
    make_llm: LLMFactory,
) -> None:
    with pytest.raises(ValueError, match="You said: Make an invoice for 'ACME'"):
        await make_llm("echo").astructured_predict(Invoice, PROMPT, name="ACME")


# -- the raw JSON schema as response_format (lyzr-adk's response_model) ------------------------
def test_structured_predict_sends_the_raw_schema(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("echo", structured_output="response_format")
    invoice = llm.structured_predict(Invoice, PROMPT, name="ACME")
    assert invoice == Invoice(customer="lyzr", total=1.5)  # the emulator fills the schema
    body = lyzr_emulator.requests[-1].json
    assert body["response_format"] == Invoice.model_json_schema()
    assert "features" not in body  # no tool: the schema alone asks for the shape
    assert body["messages"] == [{"role": "user", "content": "Make an invoice for 'ACME'"}]


async def test_astructured_predict_sends_the_raw_schema(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("echo", structured_output="response_format")
    invoice = await llm.astructured_predict(Invoice, PROMPT, name="ACME")
    assert invoice.total == 1.5
    assert lyzr_emulator.requests[-1].json["response_format"] == Invoice.model_json_schema()


def test_response_format_per_call(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm()
    question = [ChatMessage(role=MessageRole.USER, content="an invoice")]
    llm.chat(question, response_format=Invoice)
    wrapped = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    list(llm.stream_chat(question, response_format=wrapped))
    bodies = [r.json for r in lyzr_emulator.requests]
    assert bodies[0]["response_format"] == Invoice.model_json_schema()
    assert bodies[1]["response_format"] == {"type": "object"}  # unwrapped, as lyzr-adk sends
    with pytest.raises(InvalidRequestError, match="response_format"):
        llm.chat(question, response_format="json")


def test_an_answer_without_json_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"holds no JSON: 'I cannot do invoices\.'"):
        parse_structured("I cannot do invoices.", Invoice)


def test_json_that_does_not_fit_names_the_field_and_the_answer() -> None:
    with pytest.raises(ValueError, match=r"does not fit Invoice \(total: Field required\)") as info:
        parse_structured('{"customer": "ACME"}', Invoice)
    assert '{"customer": "ACME"}' in str(info.value)


def test_raw_json_schema_forms() -> None:
    assert raw_json_schema(Invoice) == Invoice.model_json_schema()
    assert raw_json_schema({"type": "object"}) == {"type": "object"}
    assert json_in_text("[1, 2]") == [1, 2]


# -- streamed structured output: the tool forced as structured_predict forces it (issue 26) ----
class Contact(BaseModel):
    """A contact."""

    name: str
    age: int


#: Names no tool: an agent calls the Contact tool only because the request forces it.
ABOUT = PromptTemplate("Tell me about '{name}'")


def _forced(em: Emulator) -> dict[str, object]:
    body = agent_bodies(em)[-1]
    config = local_tools(body)
    assert [t["name"] for t in config["tools"]] == ["Contact"]
    return config


def test_stream_structured_predict_forces_the_tool(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    outputs = list(make_llm("tool-caller").stream_structured_predict(Contact, ABOUT, name="Ada"))
    assert outputs == [Contact(name="Ada", age=1)]  # complete objects only, the last one whole
    assert _forced(lyzr_emulator)["tool_choice"] == "any"
    assert agent_bodies(lyzr_emulator)[-1]["messages"][-1]["content"] == "Tell me about 'Ada'"


async def test_astream_structured_predict_forces_the_tool(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    stream = await make_llm("tool-caller").astream_structured_predict(Contact, ABOUT, name="Bo")
    assert [o async for o in stream] == [Contact(name="Bo", age=1)]
    assert _forced(lyzr_emulator)["tool_choice"] == "any"


def test_structured_llm_stream_chat_forces_the_tool(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    structured = make_llm("tool-caller").as_structured_llm(Contact)
    responses = list(structured.stream_chat([ChatMessage(role="user", content="About 'Cy'")]))
    assert [r.raw for r in responses] == [Contact(name="Cy", age=1)]
    assert json.loads(responses[-1].message.content or "") == {"name": "Cy", "age": 1}
    assert _forced(lyzr_emulator)["tool_choice"] == "any"


async def test_structured_llm_astream_chat_forces_the_tool(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    structured = make_llm("tool-caller").as_structured_llm(Contact)
    stream = await structured.astream_chat([ChatMessage(role="user", content="About 'Di'")])
    assert [r.raw async for r in stream] == [Contact(name="Di", age=1)]
    assert _forced(lyzr_emulator)["tool_choice"] == "any"


def test_streamed_structured_output_without_a_tool_call_raises(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    # The echo agent ignores the forced tool and answers in text: an error, never an empty object.
    llm = make_llm("echo")
    with pytest.raises(ValueError, match="You said: Tell me about 'Ada'"):
        list(llm.stream_structured_predict(Contact, ABOUT, name="Ada"))
    assert _forced(lyzr_emulator)["tool_choice"] == "any"
    with pytest.raises(ValueError, match="expected a call to the tool 'Contact'"):
        list(llm.as_structured_llm(Contact).stream_chat([ChatMessage(role="user", content="x")]))


async def test_async_streamed_structured_output_without_a_tool_call_raises(
    make_llm: LLMFactory,
) -> None:
    llm = make_llm("echo")
    stream = await llm.astream_structured_predict(Contact, ABOUT, name="Ada")
    with pytest.raises(ValueError, match="You said: Tell me about 'Ada'"):
        [o async for o in stream]
    structured = await llm.as_structured_llm(Contact).astream_chat(
        [ChatMessage(role="user", content="x")]
    )
    with pytest.raises(ValueError, match="expected a call to the tool 'Contact'"):
        [r async for r in structured]


def test_streamed_tool_arguments_that_do_not_fit_raise(make_llm: LLMFactory) -> None:
    class Adult(BaseModel):
        """An adult."""

        name: str
        age: int = Field(ge=18)  # the emulator fills integers with 1

    with pytest.raises(ValueError, match=r"does not fit Adult \(age:"):
        list(make_llm("tool-caller").stream_structured_predict(Adult, ABOUT, name="Ada"))


# -- streamed, structured_output="response_format": the schema goes out as response_format ----
def test_stream_structured_predict_honours_response_format(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("echo", structured_output="response_format")
    outputs = list(llm.stream_structured_predict(Invoice, PROMPT, name="ACME"))
    assert outputs == [Invoice(customer="lyzr", total=1.5)]  # once, complete
    body = agent_bodies(lyzr_emulator)[-1]
    assert lyzr_emulator.requests[-1].path.endswith("/stream/")
    assert body["response_format"] == Invoice.model_json_schema()
    assert "features" not in body  # no tool: the schema alone asks for the shape
    assert body["messages"] == [{"role": "user", "content": "Make an invoice for 'ACME'"}]


async def test_astream_structured_predict_honours_response_format(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    llm = make_llm("echo", structured_output="response_format")
    stream = await llm.astream_structured_predict(Invoice, PROMPT, name="ACME")
    assert [o async for o in stream] == [Invoice(customer="lyzr", total=1.5)]
    structured = await llm.as_structured_llm(Invoice).astream_chat(
        [ChatMessage(role="user", content="an invoice")]
    )
    assert [r.raw async for r in structured] == [Invoice(customer="lyzr", total=1.5)]
    bodies = agent_bodies(lyzr_emulator)
    assert [b["response_format"] for b in bodies] == [Invoice.model_json_schema()] * 2
    assert all("features" not in b for b in bodies)


def test_streamed_response_format_that_does_not_fit_raises(make_llm: LLMFactory) -> None:
    class Adult(BaseModel):
        name: str
        age: int = Field(ge=18)

    llm = make_llm("echo", structured_output="response_format")
    with pytest.raises(ValueError, match=r"does not fit Adult \(age:"):
        list(llm.stream_structured_predict(Adult, ABOUT, name="Ada"))
