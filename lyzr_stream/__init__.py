"""lyzr-stream: agent chat APIs (Lyzr first) as streaming LLMs.

The core has no framework imports. Start with :class:`LyzrClient` and :class:`AgentRequest`;
the LangChain and LlamaIndex classes live in ``langchain_lyzr_stream`` and
``llamaindex_lyzr_stream``.
"""

from ._version import __version__
from .agent_events import AgentEvent
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
from .stream import AsyncEventStream, EventStream, StreamStats
from .timeouts import Timeouts

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AgentError",
    "AgentEvent",
    "AgentRequest",
    "AgentResponse",
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
    "__version__",
    "available_dialects",
    "get_dialect",
    "new_session_id",
    "register_dialect",
]
