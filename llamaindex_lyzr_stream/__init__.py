"""LlamaIndex integration of lyzr-stream: :class:`LyzrLLM`, and session memory as chat messages."""

from lyzr_stream import __version__

from .base import LyzrLLM, LyzrToolActivityEvent
from .chat_history import aread_session_history, read_session_history

__all__ = [
    "LyzrLLM",
    "LyzrToolActivityEvent",
    "__version__",
    "aread_session_history",
    "read_session_history",
]
