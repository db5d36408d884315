"""Dialects: one module per wire format, and the registry that names them.

Add a format by writing a :class:`Dialect` subclass in its own module and calling
:func:`register_dialect` (built-in ones are named below and imported when first asked for, so
a program pays only for the format it uses). What a dialect author needs is exported here; the
``_``-prefixed modules are internal. Framework classes take ``dialect="<name>"`` and never
import a dialect module themselves.
"""

from __future__ import annotations

from typing import Any

from .._errors import InvalidRequestError
from ._base import Credentials, Dialect, HttpRequest, ParsedEvent, StreamFailure, StreamParser
from ._json_events import JsonEventParser, JsonEventsDialect
from ._parsers import JsonBodyParser, RawTextParser

__all__ = [
    "Credentials",
    "Dialect",
    "HttpRequest",
    "JsonBodyParser",
    "JsonEventParser",
    "JsonEventsDialect",
    "ParsedEvent",
    "RawTextParser",
    "StreamFailure",
    "StreamParser",
    "available_dialects",
    "get_dialect",
    "register_dialect",
]

_REGISTRY: dict[str, type[Dialect]] = {}

#: The built-in dialects: name -> (module in this package, class), imported on first use.
_BUILTIN: dict[str, tuple[str, str]] = {
    "lyzr-v3": ("_lyzr_v3", "LyzrV3Dialect"),
    "lyzr-v2": ("_lyzr_v2", "LyzrV2Dialect"),
    "aisquare": ("_aisquare", "AISquareDialect"),
    "chat-messages": ("_chat_messages", "ChatMessagesDialect"),
}


def register_dialect(cls: type[Dialect]) -> type[Dialect]:
    """Register a dialect class under its ``name``. Usable as a class decorator."""
    _REGISTRY[cls.name] = cls
    return cls


def available_dialects() -> tuple[str, ...]:
    return tuple(sorted({*_REGISTRY, *_BUILTIN}))


def _registered(name: str) -> type[Dialect] | None:
    """The class registered under ``name``; a built-in one is imported the first time."""
    cls = _REGISTRY.get(name)
    if cls is None and name in _BUILTIN:
        module, class_name = _BUILTIN[name]
        # __import__, not importlib.import_module, so ``python -X importtime`` lists it.
        cls = getattr(__import__(f"{__name__}.{module}", fromlist=[class_name]), class_name)
        _REGISTRY.setdefault(name, cls)
    return cls


def get_dialect(dialect: str | Dialect, options: dict[str, Any] | None = None) -> Dialect:
    """A dialect instance from its registered name and options (or the instance itself)."""
    if isinstance(dialect, Dialect):
        if options:
            raise InvalidRequestError("dialect_options apply to a dialect name, not an instance")
        return dialect
    cls = _registered(dialect) if isinstance(dialect, str) else None
    if cls is None:
        raise InvalidRequestError(
            f"unknown dialect {dialect!r}; choose one of: {', '.join(available_dialects())}"
        )
    try:
        return cls(**(options or {}))
    except TypeError as exc:
        raise InvalidRequestError(f"invalid dialect_options for {dialect!r}: {exc}") from None
