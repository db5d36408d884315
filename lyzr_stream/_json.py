"""JSON in and out of the core: one decoding step with size and depth limits, one encoder for
request bodies.

Every JSON document the service sends (stream events, one-shot answers, error bodies, route
answers, agent events) is decoded by :func:`decode` or :func:`decode_or_text`, so that:

- a huge or absurdly nested document is one typed error (:class:`APIResponseValidationError`)
  everywhere, never a ``RecursionError`` or a ``MemoryError`` from deep inside a parser;
- "not JSON" and "JSON over the limits" are told apart by one rule: nesting is measured on what
  the parser read as JSON before its first syntax error, so a payload that opens more than
  :data:`MAX_DEPTH` levels is over the limits, valid or not (``"[" * 200000``, a cut
  ``{"a": {"a": ...``); below that, a payload that is not valid JSON is text (``NOT_JSON``);
- no decoded string holds a lone surrogate (:mod:`lyzr_stream._text`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Any, Final

from ._errors import APIResponseValidationError, InvalidRequestError, excerpt
from ._text import may_hold_surrogate_escape, without_lone_surrogates

__all__ = ["MAX_DEPTH", "NOT_JSON", "decode", "decode_or_text", "encode_body"]

#: The deepest nesting of arrays and objects accepted in a document the service sends. Real
#: answers nest a few levels (tool arguments, metadata); the limit keeps every later step
#: (re-encoding for an error message, a span attribute) far from Python's recursion limit.
MAX_DEPTH: Final = 128


class _NotJson:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_JSON"


#: What :func:`decode_or_text` returns for text that is not JSON.
NOT_JSON: Final = _NotJson()


def _too_deep(value: object) -> bool:
    """Whether ``value`` nests arrays/objects deeper than :data:`MAX_DEPTH` (iterative)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _bracket_count(data: str | bytes) -> int:
    if isinstance(data, bytes):
        return data.count(b"[") + data.count(b"{")
    return data.count("[") + data.count("{")


#: A JSON string (an unterminated one runs to the end), and a bracket.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _nesting(text: str) -> int:
    """The deepest nesting of the brackets outside strings in ``text`` (C-speed passes)."""
    steps = map(_STEP.__getitem__, _BRACKETS.findall(_STRING.sub("", text)))
    return max(accumulate(steps), default=0)


def _read_too_deep(data: str | bytes, error: ValueError) -> bool:
    """Whether what the parser read as JSON before ``error`` already nests deeper than
    :data:`MAX_DEPTH` (then the payload is JSON over the limits, not text)."""
    if _bracket_count(data) <= MAX_DEPTH:
        return False
    if isinstance(data, bytes):
        data = data.decode(json.detect_encoding(data), "replace")
    position = getattr(error, "pos", None)
    read = data if position is None else data[:position]
    return _bracket_count(read) > MAX_DEPTH and _nesting(read) > MAX_DEPTH


def _too_deep_error(data: str | bytes, what: str) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"{what} nests deeper than {MAX_DEPTH} levels", body_excerpt=excerpt(data[:200])
    )


def decode(
    data: str | bytes, *, what: str, max_bytes: int | None = None, shallow: bool = False
) -> Any:
    """The JSON value of ``data``. Not JSON, larger than ``max_bytes`` or nested deeper than
    :data:`MAX_DEPTH`: :class:`APIResponseValidationError` naming ``what``.

    ``shallow=True``: the caller checks the value's shape itself (a list of one-key objects, on
    the per-token path), so only nesting beyond the decoder's own recursion limit is caught."""
    value = _load(data, what, max_bytes, shallow)
    if value is NOT_JSON:
        raise APIResponseValidationError(f"{what} is not valid JSON", body_excerpt=excerpt(data))
    return value


def decode_or_text(
    data: str | bytes, *, what: str, max_bytes: int | None = None, shallow: bool = False
) -> Any:
    """Like :func:`decode`, but text that is not JSON gives :data:`NOT_JSON` (the caller reads
    it as text); a document that is too large or too deep is still an error."""
    return _load(data, what, max_bytes, shallow)


def _load(data: str | bytes, what: str, max_bytes: int | None, shallow: bool) -> Any:
    if max_bytes is not None and len(data) > max_bytes:
        raise APIResponseValidationError(
            f"{what} exceeded {max_bytes} bytes", body_excerpt=excerpt(data[:200])
        )
    try:
        value = json.loads(data)
    except RecursionError:
        raise _too_deep_error(data, what) from None
    except ValueError as error:
        if _read_too_deep(data, error):
            raise _too_deep_error(data, what) from None
        return NOT_JSON
    # Only a document with more brackets than the limit can be too deep: the count is C-fast,
    # so the walk is paid only by documents that could fail it.
    if not shallow and _bracket_count(data) > MAX_DEPTH and _too_deep(value):
        raise _too_deep_error(data, what)
    # The backslash test inline: on the per-token path most events hold no escape at all.
    if ("\\" in data if isinstance(data, str) else b"\\" in data) and may_hold_surrogate_escape(
        data
    ):
        value = without_lone_surrogates(value)
    return value


def _plain(value: object) -> object:
    """JSON for the mappings and sequences the standard encoder does not take
    (``MappingProxyType``, other ``Mapping``/``Sequence`` types); anything else is refused."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple, set, frozenset)) or (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes))
    ):
        return list(value)
    raise InvalidRequestError(
        f"the request holds a {type(value).__name__}, which cannot be sent as JSON"
    )


#: One encoder for every request body (``json.dumps`` with options builds a new one per call).
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_plain
)


def encode_body(value: object) -> bytes:
    """A request body; what cannot be sent is an :class:`InvalidRequestError` naming it."""
    try:
        return _ENCODER.encode(value).encode()
    except UnicodeEncodeError:
        raise InvalidRequestError(
            "the request holds text that is not valid Unicode (a lone surrogate, often left by a"
            " broken decode) in the message, an id or a variable"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InvalidRequestError(f"the request body cannot be sent as JSON: {exc}") from None
