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
    from ._client import LyzrClient as LyzrClient
    from ._client import new_session_id as new_session_id
    from ._errors import AgentError as AgentError
    from ._errors import AgentFailedError as AgentFailedError
    from ._errors import APIConnectionError as APIConnectionError
    from ._errors import APIResponseValidationError as APIResponseValidationError
    from ._errors import APIStatusError as APIStatusError
    from ._errors import APITimeoutError as APITimeoutError
    from ._errors import AuthenticationError as AuthenticationError
    from ._errors import BadRequestError as BadRequestError
    from ._errors import ConflictError as ConflictError
    from ._errors import InternalServerError as InternalServerError
    from ._errors import InvalidRequestError as InvalidRequestError
    from ._errors import LyzrError as LyzrError
    from ._errors import NotFoundError as NotFoundError
    from ._errors import PermissionDeniedError as PermissionDeniedError
    from ._errors import RateLimitError as RateLimitError
    from ._errors import StreamInterruptedError as StreamInterruptedError
    from ._errors import TaskFailedError as TaskFailedError
    from ._errors import UnprocessableEntityError as UnprocessableEntityError
    from ._events import AgentEvent as AgentEvent
    from ._events import Metadata as Metadata
    from ._events import ReasoningDelta as ReasoningDelta
    from ._events import StreamEnd as StreamEnd
    from ._events import StreamEvent as StreamEvent
    from ._events import TextDelta as TextDelta
    from ._events import ToolActivity as ToolActivity
    from ._events import ToolCall as ToolCall
    from ._events import ToolCallRequest as ToolCallRequest
    from ._http.limits import Timeouts as Timeouts
    from ._request import AgentRequest as AgentRequest
    from ._request import ChatMessage as ChatMessage
    from ._request import ToolSpec as ToolSpec
    from ._response import AgentResponse as AgentResponse
    from ._routes.assets import Asset as Asset
    from ._routes.assets import AssetUploadError as AssetUploadError
    from ._routes.assets import UploadFile as UploadFile
    from ._routes.knowledge import RetrievedChunk as RetrievedChunk
    from ._routes.knowledge import knowledge_base_feature as knowledge_base_feature
    from ._routes.sessions import SessionInfo as SessionInfo
    from ._routes.sessions import SessionMessage as SessionMessage
    from ._routes.tasks import TaskInfo as TaskInfo
    from ._routes.tasks import TaskStatus as TaskStatus
    from ._stream import AsyncEventStream as AsyncEventStream
    from ._stream import EventStream as EventStream
    from ._stream import StreamStats as StreamStats
    from .dialects import Dialect as Dialect
    from .dialects import available_dialects as available_dialects
    from .dialects import get_dialect as get_dialect
    from .dialects import register_dialect as register_dialect

# The module (in this package) that defines each public name, imported on first use.
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "_routes.assets": ("Asset", "AssetUploadError", "UploadFile"),
    "_client": ("LyzrClient", "new_session_id"),
    "dialects": ("Dialect", "available_dialects", "get_dialect", "register_dialect"),
    "_errors": (
        "AgentError", "AgentFailedError", "APIConnectionError", "APIResponseValidationError",
        "APIStatusError", "APITimeoutError", "AuthenticationError", "BadRequestError",
        "ConflictError", "InternalServerError", "InvalidRequestError", "LyzrError", "NotFoundError",
        "PermissionDeniedError", "RateLimitError", "StreamInterruptedError",
        "UnprocessableEntityError",
        "TaskFailedError",  # background tasks (issue 27)
    ),
    "_events": (
        "AgentEvent", "Metadata", "ReasoningDelta", "StreamEnd", "StreamEvent", "TextDelta",
        "ToolActivity", "ToolCall", "ToolCallRequest",
    ),
    "_request": ("AgentRequest", "ChatMessage", "ToolSpec"),
    "_response": ("AgentResponse",),
    "_routes.sessions": ("SessionInfo", "SessionMessage"),
    # -- knowledge bases --
    "_routes.knowledge": ("RetrievedChunk", "knowledge_base_feature"),
    "_routes.tasks": ("TaskInfo", "TaskStatus"),  # background tasks (issue 27)
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


__all__ = ["__version__", *sorted(_LAZY)]
