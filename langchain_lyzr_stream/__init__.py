"""LangChain integration of lyzr-stream: :class:`ChatLyzr` and :class:`LyzrChatMessageHistory`."""

from lyzr_stream import __version__
from lyzr_stream._errors import check_extra

try:
    from langchain_lyzr_stream.chat_history import LyzrChatMessageHistory
    from langchain_lyzr_stream.chat_models import ChatLyzr
    from langchain_lyzr_stream.retrievers import LyzrRetriever
except ModuleNotFoundError as _error:
    check_extra(_error, "langchain_lyzr_stream", "langchain", "langchain_core")
    raise

__all__ = ["ChatLyzr", "LyzrChatMessageHistory", "LyzrRetriever", "__version__"]
