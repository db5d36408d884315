"""Dialects: one module per wire format, and the registry that names them.

Add a format by writing a :class:`Dialect` subclass in its own module and calling
:func:`register_dialect` (built-in ones are registered below). What a dialect author needs is
exported here; the ``_``-prefixed modules are internal. Framework
classes take ``dialect="<name>"`` and never import a dialect module themselves.
"""

from __future__ import annotations

from typing import Any

from .._errors import InvalidRequestError
from ._aisquare import AISquareDialect
from ._base import Credentials, Dialect, HttpRequest, ParsedEvent, StreamFailure, StreamParser
from ._chat_messages import ChatMessagesDialect
from ._common import JsonBodyParser, JsonEventParser, RawTextParser
from ._lyzr_v2 import LyzrV2Dialect
from ._lyzr_v3 import LyzrV3Dialect

__all__ = [
    "Credentials",
    "Dialect",
    "HttpRequest",
    "JsonBodyParser",
    "JsonEventParser",
    "ParsedEvent",
    "RawTextParser",
    "StreamFailure",
    "StreamParser",
    "available_dialects",
    "get_dialect",
    "register_dialect",
]

_REGISTRY: dict[str, type[Dialect]] = {}


def register_dialect(cls: type[Dialect]) -> type[Dialect]:
    """Register a dialect class under its ``name``. Usable as a class decorator."""
    _REGISTRY[cls.name] = cls
    return cls


def available_dialects() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def get_dialect(dialect: str | Dialect, options: dict[str, Any] | None = None) -> Dialect:
    """A dialect instance from its registered name and options (or the instance itself)."""
    if isinstance(dialect, Dialect):
        if options:
            raise InvalidRequestError("dialect_options apply to a dialect name, not an instance")
        return dialect
    cls = _REGISTRY.get(dialect) if isinstance(dialect, str) else None
    if cls is None:
        raise InvalidRequestError(
            f"unknown dialect {dialect!r}; choose one of: {', '.join(available_dialects())}"
        )
    try:
        return cls(**(options or {}))
    except TypeError as exc:
        raise InvalidRequestError(f"invalid dialect_options for {dialect!r}: {exc}") from None


for _builtin in (LyzrV3Dialect, LyzrV2Dialect, AISquareDialect, ChatMessagesDialect):
    register_dialect(_builtin)
