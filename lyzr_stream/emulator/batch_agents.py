"""A scripted agent for batch and scale-out runs: most prompts succeed, marked ones fail.

``batch`` answers ``"You said: <message>"`` like ``echo``, except that a message containing
the word ``FAIL`` makes the agent report an error (a 500 on the one-shot route, ``[ERROR]`` on
the stream), so that a pipeline's per-row failure handling can be exercised.
"""

from __future__ import annotations

from .agents import AgentCall, Answer, agent, words

__all__ = ["FAIL_MARKER"]

#: A message holding this word makes the ``batch`` agent fail.
FAIL_MARKER = "FAIL"


@agent("batch")
def _batch(call: AgentCall) -> Answer:
    message = call.message
    if FAIL_MARKER in message.split():
        return Answer((), error=f"the agent could not answer {message!r}")
    return Answer(words(f"You said: {message}"))

