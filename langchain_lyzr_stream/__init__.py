"""LangChain integration of lyzr-stream: :class:`ChatLyzr` and :class:`LyzrChatMessageHistory`."""

from lyzr_stream import __version__

from .chat_history import LyzrChatMessageHistory
from .chat_models import ChatLyzr

__all__ = ["ChatLyzr", "LyzrChatMessageHistory", "__version__"]
