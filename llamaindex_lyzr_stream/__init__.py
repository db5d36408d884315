"""LlamaIndex integration of lyzr-stream: :class:`LyzrLLM`."""

from lyzr_stream import __version__

from .base import LyzrLLM, LyzrToolActivityEvent

__all__ = ["LyzrLLM", "LyzrToolActivityEvent", "__version__"]
