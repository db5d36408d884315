"""Scripted agents for trying pages and UIs against the emulator.

``showcase`` does a bit of everything a page has to show, paced so the answer visibly grows:
reasoning (``<think>``), a server-side tool call and its result (reported by the
``chat-messages`` dialect), then the answer. ``markup`` answers with HTML, a ``<script>`` among
it, cut across fragments: a page that renders agent text as markup would run it.
"""

from __future__ import annotations

from .agents import AgentCall, Answer, agent, words

__all__ = ["MARKUP_ANSWER", "SHOWCASE_ANSWER"]

SHOWCASE_ANSWER = (
    "Lyzr agents keep each conversation's memory on the server, per session id. "
    "lyzr-stream streams the answer token by token through ChatLyzr or LyzrLLM, keeps "
    "reasoning apart from the answer, and reports the tools the agent ran as they happen."
)
#: Sets ``window.__lyzrInjected`` if a page ever runs agent text as HTML.
MARKUP_ANSWER = (
    "Markup stays text: <script>window.__lyzrInjected = true;</script> "
    '<img src="x" onerror="window.__lyzrInjected = true"> <b>not bold</b>, done.'
)


@agent("showcase")
def _showcase(call: AgentCall) -> Answer:
    thinking = ("<think>", "The user asks ", "about memory; ", "search the docs ", "first.</think>")
    return Answer(
        thinking + words(SHOWCASE_ANSWER),
        delay=0.04,
        activity=(
            ("call", "search_docs", {"query": call.message}),
            ("result", "search_docs", {"hits": 3, "top": "Sessions and variables"}),
        ),
    )


@agent("markup")
def _markup(call: AgentCall) -> Answer:
    text = MARKUP_ANSWER
    return Answer(tuple(text[i : i + 5] for i in range(0, len(text), 5)))
