"""lyzr-stream: agent chat APIs (Lyzr first) as streaming LLMs.

The core has no framework imports. Start with :class:`LyzrClient` and :class:`AgentRequest`;
the LangChain and LlamaIndex classes live in ``langchain_lyzr_stream`` and
``llamaindex_lyzr_stream``.

Everything public is importable from here (and from the ``dialects``, ``emulator`` and
``playground`` subpackages); modules whose names start with ``_`` are internal and may change
without notice.

The public names are imported on first use (PEP 562 ``__getattr__``), so ``import lyzr_stream``
costs almost nothing and a program pays only for the parts it touches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports them
    from ._client import LyzrClient, new_session_id
    from ._errors import (
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
        UnprocessableEntityError,
    )
    from ._events import (
        AgentEvent,
        Metadata,
        ReasoningDelta,
        StreamEnd,
        StreamEvent,
        TextDelta,
        ToolActivity,
        ToolCall,
        ToolCallRequest,
    )
    from ._http.limits import Timeouts
    from ._request import AgentRequest, ChatMessage, ToolSpec
    from ._response import AgentResponse
    from ._routes.assets import Asset, AssetUploadError, UploadFile
    from ._routes.sessions import SessionInfo, SessionMessage
    from ._stream import AsyncEventStream, EventStream, StreamStats
    from .dialects import Dialect, available_dialects, get_dialect, register_dialect

# The module (in this package) that defines each public name, imported on first use.
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "_routes.assets": ("Asset", "AssetUploadError", "UploadFile"),
    "_client": ("LyzrClient", "new_session_id"),
    "dialects": ("Dialect", "available_dialects", "get_dialect", "register_dialect"),
    "_errors": (
        "AgentError", "APIConnectionError", "APIResponseValidationError", "APIStatusError",
        "APITimeoutError", "AuthenticationError", "BadRequestError", "ConflictError",
        "InternalServerError", "InvalidRequestError", "LyzrError", "NotFoundError",
        "PermissionDeniedError", "RateLimitError", "StreamInterruptedError",
        "UnprocessableEntityError",
    ),
    "_events": (
        "AgentEvent", "Metadata", "ReasoningDelta", "StreamEnd", "StreamEvent", "TextDelta",
        "ToolActivity", "ToolCall", "ToolCallRequest",
    ),
    "_request": ("AgentRequest", "ChatMessage", "ToolSpec"),
    "_response": ("AgentResponse",),
    "_routes.sessions": ("SessionInfo", "SessionMessage"),
    "_stream": ("AsyncEventStream", "EventStream", "StreamStats"),
    "_http.limits": ("Timeouts",),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}

if not TYPE_CHECKING:  # hidden from type checkers, so that a misspelt name is still an error

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        # __import__ rather than importlib.import_module: ``python -X importtime`` then lists
        # the module (it logs only imports that go through the import statement's machinery).
        value = getattr(__import__(f"{__name__}.{module}", fromlist=[name]), name)
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
    "UnprocessableEntityError",
    "UploadFile",
    "__version__",
    "available_dialects",
    "get_dialect",
    "new_session_id",
    "register_dialect",
]
