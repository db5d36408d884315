"""Structured output in LlamaIndex: the schema as a tool or as response_format, the JSON parsed."""

from __future__ import annotations

import json

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from llamaindex_lyzr_stream._convert import parse_structured
from lyzr_stream import InvalidRequestError
from lyzr_stream._adapters.structured import json_in_text, raw_json_schema
from lyzr_stream.emulator import Emulator
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
