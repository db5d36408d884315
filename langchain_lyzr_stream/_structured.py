"""Structured output for ChatLyzr: reading a Lyzr agent's answer into a schema.

A Lyzr agent is an LLM behind a prompt the user wrote in Lyzr Studio: it may answer in prose,
wrap its JSON in a Markdown fence or in a sentence, or not call the tool it was asked to call.
These parsers accept every such form and fail with ``OutputParserException`` carrying the
agent's text when the answer does not fit, never with ``None`` standing for the object. Where
the JSON of a text answer is found is the rule both frameworks share,
:func:`lyzr_stream._adapters.structured.json_in_text`.
"""

from __future__ import annotations

from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import BaseGenerationOutputParser
from langchain_core.outputs import ChatGeneration, Generation
from pydantic import BaseModel, ValidationError
from pydantic.v1 import ValidationError as V1ValidationError

from lyzr_stream._adapters.structured import NoJsonError, json_in_text

__all__ = ["JsonAnswerParser", "ToolCallParser", "answer_json"]

_EXCERPT = 300


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def answer_json(text: str) -> Any:
    """The JSON value the answer holds (:func:`~lyzr_stream._adapters.structured.json_in_text`'s
    rule); ``OutputParserException`` carrying the text when there is none."""
    try:
        return json_in_text(text)
    except NoJsonError:
        raise OutputParserException(
            f"the agent's answer holds no JSON: {_excerpt(text)!r}", llm_output=text
        ) from None


def _fit(value: Any, schema: type | None, text: str) -> Any:
    if schema is None:
        return value
    try:
        if issubclass(schema, BaseModel):
            return schema.model_validate(value)
        return schema.parse_obj(value)  # type: ignore[attr-defined]  # a pydantic.v1 model
    except (ValidationError, V1ValidationError) as exc:
        raise OutputParserException(
            f"the agent's answer does not fit {schema.__name__}: {exc}", llm_output=text
        ) from exc


def _message_of(result: list[Generation]) -> AIMessage | None:
    generation = result[0] if result else None
    if isinstance(generation, ChatGeneration) and isinstance(generation.message, AIMessage):
        return generation.message
    return None


class JsonAnswerParser(BaseGenerationOutputParser[Any]):
    """The JSON in the answer text, as ``schema`` (a pydantic model) or as plain data.

    Streams nothing partial: the object is parsed once the answer is complete.
    """

    #: A pydantic model (v2, or pydantic.v1) to validate into; None: plain data.
    schema_model: type | None = None

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        text = result[0].text if result else ""
        return _fit(answer_json(text), self.schema_model, text)

    @property
    def _type(self) -> str:
        return "lyzr_json_answer"


class ToolCallParser(BaseGenerationOutputParser[Any]):
    """The arguments of the agent's call to ``tool_name``, as ``schema`` or as a dict.

    An answer without that call raises ``OutputParserException`` carrying the agent's text.
    """

    tool_name: str
    schema_model: type | None = None

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        message = _message_of(result)
        text = message.text if message is not None else (result[0].text if result else "")
        calls = message.tool_calls if message is not None else []
        call = next((c for c in calls if c["name"] == self.tool_name), None)
        if call is None:
            raise OutputParserException(
                f"the agent answered without calling {self.tool_name!r}: {_excerpt(text)!r}",
                llm_output=text,
            )
        return _fit(call["args"], self.schema_model, text)

    @property
    def _type(self) -> str:
        return "lyzr_tool_call"
