"""lyzr-stream: agent chat APIs (Lyzr first) as streaming LLMs.

The core has no framework imports. Start with :class:`LyzrClient` and :class:`AgentRequest`;
the LangChain and LlamaIndex classes live in ``langchain_lyzr_stream`` and
``llamaindex_lyzr_stream``.

The public names are imported on first use (PEP 562 ``__getattr__``), so ``import lyzr_stream``
costs almost nothing and a program pays only for the parts it touches.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports them
    from .agent_events import AgentEvent
    from .assets import Asset, AssetUploadError, UploadFile
    from .client import LyzrClient, new_session_id
    from .dialects import Dialect, available_dialects, get_dialect, register_dialect
    from .errors import (
        AgentError,
        APIConnectionError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        InternalServerError,
        InvalidRequestError,
        LyzrError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        StreamInterruptedError,
        UnknownToolError,
        UnprocessableEntityError,
    )
    from .events import (
        Metadata,
        ReasoningDelta,
        StreamEnd,
        StreamEvent,
        TextDelta,
        ToolActivity,
        ToolCall,
        ToolCallRequest,
    )
    from .request import AgentRequest, ChatMessage, ToolSpec
    from .response import AgentResponse
    from .sessions import SessionInfo, SessionMessage
    from .stream import AsyncEventStream, EventStream, StreamStats
    from .timeouts import Timeouts

# The module (in this package) that defines each public name, imported on first use.
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "agent_events": ("AgentEvent",),
    "assets": ("Asset", "AssetUploadError", "UploadFile"),
    "client": ("LyzrClient", "new_session_id"),
    "dialects": ("Dialect", "available_dialects", "get_dialect", "register_dialect"),
    "errors": (
        "AgentError", "APIConnectionError", "APIResponseValidationError", "APIStatusError",
        "APITimeoutError", "AuthenticationError", "BadRequestError", "ConflictError",
        "InternalServerError", "InvalidRequestError", "LyzrError", "NotFoundError",
        "PermissionDeniedError", "RateLimitError", "StreamInterruptedError", "UnknownToolError",
        "UnprocessableEntityError",
    ),
    "events": (
        "Metadata", "ReasoningDelta", "StreamEnd", "StreamEvent", "TextDelta", "ToolActivity",
        "ToolCall", "ToolCallRequest",
    ),
    "request": ("AgentRequest", "ChatMessage", "ToolSpec"),
    "response": ("AgentResponse",),
    "sessions": ("SessionInfo", "SessionMessage"),
    "stream": ("AsyncEventStream", "EventStream", "StreamStats"),
    "timeouts": ("Timeouts",),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}

if not TYPE_CHECKING:  # hidden from type checkers, so that a misspelt name is still an error

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value  # later lookups find it directly, without __getattr__
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AgentError",
    "AgentEvent",
    "AgentRequest",
    "AgentResponse",
    "Asset",
    "AssetUploadError",
    "AsyncEventStream",
    "AuthenticationError",
    "BadRequestError",
    "ChatMessage",
    "ConflictError",
    "Dialect",
    "EventStream",
    "InternalServerError",
    "InvalidRequestError",
    "LyzrClient",
    "LyzrError",
    "Metadata",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReasoningDelta",
    "SessionInfo",
    "SessionMessage",
    "StreamEnd",
    "StreamEvent",
    "StreamInterruptedError",
    "StreamStats",
    "TextDelta",
    "Timeouts",
    "ToolActivity",
    "ToolCall",
    "ToolCallRequest",
    "ToolSpec",
    "UnknownToolError",
    "UnprocessableEntityError",
    "UploadFile",
    "__version__",
    "available_dialects",
    "get_dialect",
    "new_session_id",
    "register_dialect",
]
