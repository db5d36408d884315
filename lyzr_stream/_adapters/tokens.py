"""An approximate token count that needs nothing installed and nothing downloaded.

A Lyzr agent's model (and so its tokenizer) is chosen in Lyzr Studio and the API reports no
token usage, so no exact count is possible client-side. The rule is LangChain's approximate
counter's: about four characters per token, rounded up. LyzrLLM's ``tokenizer`` uses it, so
LlamaIndex's token budgets (memory buffers, prompt packing) agree with ChatLyzr's counts.
"""

from __future__ import annotations

import math

__all__ = ["CHARS_PER_TOKEN", "approximate_token_count", "approximate_tokenize"]

#: LangChain's ``count_tokens_approximately`` default.
CHARS_PER_TOKEN = 4.0


def approximate_token_count(text: str) -> int:
    """About one token per four characters, rounded up (0 for empty text)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def approximate_tokenize(text: str) -> list[int]:
    """A tokenizer in LlamaIndex's form (``str -> list``): one entry per approximate token.

    The entries are the character offsets where each token starts; only the length is
    meaningful (LlamaIndex counts with ``len(tokenizer(text))``).
    """
    step = int(CHARS_PER_TOKEN)
    return list(range(0, len(text), step))
