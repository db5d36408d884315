"""LlamaIndex integration of lyzr-stream: :class:`LyzrLLM`, and session memory as chat messages."""

from lyzr_stream import __version__
from lyzr_stream._extras import check_extra

try:
    from .agent_events import LyzrAgentEvent
    from .base import LyzrLLM, LyzrToolActivityEvent
    from .chat_history import aread_session_history, read_session_history
except ModuleNotFoundError as _error:
    check_extra(_error, "llamaindex_lyzr_stream", "llamaindex", "llama_index")
    raise

__all__ = [
    "LyzrAgentEvent",
    "LyzrLLM",
    "LyzrToolActivityEvent",
    "__version__",
    "aread_session_history",
    "read_session_history",
]
