"""Structured output sent per request as lyzr-adk sends it, and JSON read back out of a text
answer. No I/O, no framework.

lyzr-adk's ``response_model`` goes out as ``response_format``: the model's raw JSON schema
(:func:`raw_json_schema`). Whatever the agent writes back is read by :func:`json_in_text`: a
JSON document alone, inside a Markdown code fence, or with prose around it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from .._errors import InvalidRequestError

__all__ = ["json_in_text", "raw_json_schema"]

_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)


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


def json_in_text(text: str) -> Any:
    """The JSON value an answer holds: the whole text, a fenced block, or the first object or
    array with prose around it. Raises ``ValueError`` naming the answer when there is none."""
    stripped = text.strip()
    candidates = [stripped, *(m.strip() for m in _FENCE.findall(text))]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[{\[]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        return value
    raise ValueError(f"the agent's answer holds no JSON: {text[:2000]!r}")
