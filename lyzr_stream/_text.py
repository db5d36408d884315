"""Text the core hands out is valid Unicode: a lone surrogate (half of a UTF-16 pair, left by a
service that cut a message inside an emoji) becomes U+FFFD, so that every ``.encode()``
downstream (a terminal, JSON output, a web page) works.

Surrogates come only from escapes: JSON ``\\uD83D`` and the v3 text escapes. The rule is applied
where those are decoded: :func:`lyzr_stream._json.decode` (every JSON document the service sends)
and :mod:`lyzr_stream.dialects._unescape` (the v3 stream's escaped text).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["may_hold_surrogate_escape", "replace_lone_surrogates", "without_lone_surrogates"]

_SURROGATES = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")


def replace_lone_surrogates(text: str) -> str:
    """``text`` with surrogate pairs joined and any lone surrogate replaced by U+FFFD."""
    if _SURROGATES.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def may_hold_surrogate_escape(data: str | bytes) -> bool:
    """Whether escaped text may decode to a surrogate (it holds a ``\\uD800``-``\\uDFFF``
    escape). Cheap tests first (a backslash at all, then ``\\ud``): the regular expression runs
    only when they match, so text without escapes pays one character search."""
    if isinstance(data, bytes):
        return (
            b"\\" in data
            and (b"\\ud" in data or b"\\uD" in data)
            and bool(_SURROGATE_ESCAPE_BYTES.search(data))
        )
    return (
        "\\" in data
        and ("\\ud" in data or "\\uD" in data)
        and bool(_SURROGATE_ESCAPE.search(data))
    )


def without_lone_surrogates(value: Any) -> Any:
    """A decoded JSON value with :func:`replace_lone_surrogates` applied to every string in it,
    keys included. Lists and dicts are changed in place (iteratively: no recursion limit)."""
    if isinstance(value, str):
        return replace_lone_surrogates(value)
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = replace_lone_surrogates(item)
                elif isinstance(item, (list, dict)):
                    stack.append(item)
        elif isinstance(node, dict):
            if any(_SURROGATES.search(key) for key in node):
                items = list(node.items())
                node.clear()
                node.update((replace_lone_surrogates(k), v) for k, v in items)
            for key, item in node.items():
                if isinstance(item, str):
                    node[key] = replace_lone_surrogates(item)
                elif isinstance(item, (list, dict)):
                    stack.append(item)
    return value
