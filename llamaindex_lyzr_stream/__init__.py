"""LlamaIndex integration of lyzr-stream: :class:`LyzrLLM`, and session memory as chat messages."""

from lyzr_stream import __version__
from lyzr_stream._errors import check_extra

try:
    from llamaindex_lyzr_stream.agent_events import LyzrAgentEvent
    from llamaindex_lyzr_stream.base import LyzrLLM, LyzrToolActivityEvent
    from llamaindex_lyzr_stream.chat_history import aread_session_history, read_session_history
    from llamaindex_lyzr_stream.retrievers import LyzrRetriever
except ModuleNotFoundError as _error:
    check_extra(_error, "llamaindex_lyzr_stream", "llamaindex", "llama_index")
    raise

__all__ = [
    "LyzrAgentEvent",
    "LyzrLLM",
    "LyzrRetriever",
    "LyzrToolActivityEvent",
    "__version__",
    "aread_session_history",
    "read_session_history",
]
