"""LangChain integration of lyzr-stream: :class:`ChatLyzr`."""

from lyzr_stream import __version__

from .chat_models import ChatLyzr

__all__ = ["ChatLyzr", "__version__"]
