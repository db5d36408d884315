"""Scoped call options for code that calls the LLM for you (query engines, agents).

``with llm.session(session_id=..., system_prompt_variables=...):`` applies to every call that
LLM makes inside the block, in this thread or asyncio task only (a ``ContextVar``): threads and
tasks running side by side never see each other's scope. Scopes nest; the inner one wins, and
``system_prompt_variables`` / ``filter_variables`` merge key by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

__all__ = ["SessionScope", "scoped_layers"]

# owner token -> the scope layers of that owner, outermost first. Copy-on-write.
_SCOPES: ContextVar[Mapping[str, tuple[Mapping[str, Any], ...]] | None] = ContextVar(
    "lyzr_stream_llamaindex_scopes", default=None
)


def scoped_layers(owner: str) -> tuple[Mapping[str, Any], ...]:
    """The active scope layers of one LLM instance, outermost first."""
    return (_SCOPES.get() or {}).get(owner, ())


class SessionScope:
    """The object ``llm.session(...)`` returns: a sync and async context manager."""

    def __init__(self, owner: str, layer: Mapping[str, Any]) -> None:
        self._owner = owner
        self._layer = dict(layer)
        self._tokens: list[Token[Mapping[str, tuple[Mapping[str, Any], ...]] | None]] = []

    def __enter__(self) -> SessionScope:
        scopes = _SCOPES.get() or {}
        layers = (*scopes.get(self._owner, ()), self._layer)
        self._tokens.append(_SCOPES.set({**scopes, self._owner: layers}))
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        _SCOPES.reset(self._tokens.pop())

    async def __aenter__(self) -> SessionScope:
        return self.__enter__()

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(t, e, tb)
