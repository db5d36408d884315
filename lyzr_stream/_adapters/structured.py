"""Structured output sent per request as lyzr-adk sends it, and JSON read back out of a text
answer. No I/O, no framework.

lyzr-adk's ``response_model`` goes out as ``response_format``: the model's raw JSON schema
(:func:`raw_json_schema`). Whatever the agent writes back is read by :func:`json_in_text`, the
one rule of both frameworks (ChatLyzr's structured-output parsers in
``langchain_lyzr_stream/_structured.py``, LyzrLLM's ``parse_structured`` in
``llamaindex_lyzr_stream/_convert.py``): a JSON document alone, inside a Markdown code fence,
or with prose around it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from .._errors import InvalidRequestError
from .._json import NOT_JSON, decode, decode_or_text

__all__ = ["NoJsonError", "json_in_text", "raw_json_schema"]

#: A Markdown code fence: three backticks, a language tag or none (letters, digits, "_", "-":
#: json, JSON, javascript, jsonc), blanks, at most one newline, then the block up to the next
#: three backticks. A tag holds no brace or bracket, so a block that starts on the fence's own
#: line (three backticks, "json", then {"a": 1}) is not taken for part of the tag.
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)
_OPENERS = re.compile(r"[{\[]")


def raw_json_schema(response_format: object) -> dict[str, Any]:
    """The raw JSON schema for ``response_format``, as lyzr-adk sends its ``response_model``.

    Accepts a pydantic model class, a raw JSON schema, or the OpenAI wrapper
    ``{"type": "json_schema", "json_schema": {"schema": ...}}`` (unwrapped).
    """
    if isinstance(response_format, type) and issubclass(response_format, BaseModel):
        return response_format.model_json_schema()
    if isinstance(response_format, Mapping):
        wrapped = response_format.get("json_schema")
        if response_format.get("type") == "json_schema" and isinstance(wrapped, Mapping):
            schema = wrapped.get("schema")
            if isinstance(schema, Mapping):
                return dict(schema)
        return dict(response_format)
    raise InvalidRequestError(
        "response_format must be a pydantic model class or a JSON schema dict, got "
        f"{type(response_format).__name__}"
    )


class NoJsonError(ValueError):
    """An answer that holds no JSON value by :func:`json_in_text`'s rule; ``text`` is the whole
    answer (each framework reports it its own way)."""

    def __init__(self, text: str) -> None:
        super().__init__(f"the agent's answer holds no JSON: {text[:2000]!r}")
        self.text = text


def json_in_text(text: str) -> Any:
    """The JSON value an agent's answer holds, by one rule for ChatLyzr and LyzrLLM.

    Tried in this order, the first that parses wins:

    1. the whole answer (blanks around it ignored): an answer that is a JSON document is that
       document, even when a string inside it holds a fence;
    2. each Markdown code fence in turn, with any language tag or none (json, JSON,
       javascript, or a bare fence), also with the block on the fence's own line; a fenced
       block may hold any JSON value;
    3. the first JSON object or array inside prose: from the first ``{`` or ``[`` at which a
       whole JSON value can be read ("Sure! {...} hope that helps").

    Raises :class:`NoJsonError` (a ``ValueError``, carrying the text) when none does, and
    ``APIResponseValidationError`` for JSON nested deeper than the one JSON rule allows
    (:mod:`lyzr_stream._json`, which also replaces lone surrogates).
    """
    what = "the agent's answer"
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    for candidate in candidates:
        value = decode_or_text(candidate, what=what)
        if value is not NOT_JSON:
            return value
    decoder = json.JSONDecoder()
    for match in _OPENERS.finditer(text):
        try:
            _, end = decoder.raw_decode(text, match.start())
        except RecursionError:
            return decode(text[match.start() :], what=what)  # raises: too deep
        except ValueError:
            continue
        return decode(text[match.start() : end], what=what)
    raise NoJsonError(text)
