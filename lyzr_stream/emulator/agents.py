"""Scripted agents of the emulator, selected by agent id.

An agent is a function from an :class:`AgentCall` (what the client sent, plus the session's
history) to an :class:`Answer` (the fragments to stream, and optionally an error, artifacts or a
local tool call). Register one with :func:`agent`; ids ending in ``-<N>`` resolve to the agent
registered for the prefix with ``N`` as its parameter (``long-20000``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AGENTS",
    "DEMO_ANSWER",
    "UNICODE_ANSWER",
    "AgentCall",
    "Answer",
    "agent",
    "long_answer_tokens",
    "resolve_agent",
    "words",
]


@dataclass(frozen=True)
class AgentCall:
    """One request as an agent sees it. ``history`` is the session's earlier turns."""

    agent_id: str
    message: str
    session_id: str
    user_id: str
    history: tuple[tuple[str, str], ...] = ()
    system_prompt_variables: Mapping[str, Any] = field(default_factory=dict)
    filter_variables: Mapping[str, Any] = field(default_factory=dict)
    features: tuple[Mapping[str, Any], ...] = ()
    messages: tuple[Mapping[str, Any], ...] | None = None
    param: int | None = None
    #: The request's ``assets``, described from the upload store (see ``emulator.assets``).
    assets: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Answer:
    """What an agent streams: ``fragments``, then ``[ERROR] error`` if set, else ``[DONE]``.

    ``delay`` is a pause (seconds) before each fragment, to make streaming visible.
    ``tool_call`` is a ``local_tool_call`` payload sent instead of text.
    ``escape`` names how the v3 text form escapes fragments (``backslash``, ``html``,
    ``backslash-amp``); ``wire_fragments``, when set, are sent as they are in the v3 text form
    instead of escaping ``fragments`` (for escapes cut between events). ``json_events`` are raw
    JSON payloads inserted in the v3 stream before the fragment of the given index.
    """

    fragments: tuple[str, ...]
    error: str | None = None
    artifacts: tuple[Mapping[str, Any], ...] = ()
    delay: float = 0.0
    tool_call: Mapping[str, Any] | None = None
    #: Server-side tool activity (chat-messages dialect): ("call"|"result", tool, payload).
    activity: tuple[tuple[str, str, Any], ...] = ()
    #: Awaited with the Starlette request before the answer starts streaming (Lyzr v3): the
    #: agent's server-side work, e.g. publishing agent events (see ``event_agents.py``).
    prelude: Callable[[Any], Awaitable[None]] | None = None
    escape: str = "backslash"
    wire_fragments: tuple[str, ...] | None = None
    json_events: tuple[tuple[int, Mapping[str, Any]], ...] = ()

    @property
    def text(self) -> str:
        return "".join(self.fragments)


AgentFn = Callable[[AgentCall], Answer]
AGENTS: dict[str, AgentFn] = {}


def agent(name: str) -> Callable[[AgentFn], AgentFn]:
    """Register an agent function under ``name``."""

    def register(fn: AgentFn) -> AgentFn:
        AGENTS[name] = fn
        return fn

    return register


def resolve_agent(agent_id: str) -> tuple[AgentFn, int | None] | None:
    """The agent for an id and its numeric parameter (``long-500`` -> long, 500)."""
    if agent_id in AGENTS:
        return AGENTS[agent_id], None
    prefix, _, number = agent_id.rpartition("-")
    if prefix in AGENTS and number.isdigit():
        return AGENTS[prefix], int(number)
    return None


def words(text: str) -> tuple[str, ...]:
    """Split text into word fragments that keep their leading whitespace."""
    out: list[str] = []
    current = ""
    for ch in text:
        if ch in " \n\t" and current.strip():
            out.append(current)
            current = ""
        current += ch
    if current:
        out.append(current)
    return tuple(out)


def long_answer_tokens(n: int) -> list[str]:
    """The deterministic tokens of the ``long-<n>`` agent: ``"w0"``, ``" w1"``, ``" w2"``, ..."""
    return list(_long_tokens(n))


@functools.lru_cache(maxsize=16)
def _long_tokens(n: int) -> tuple[str, ...]:
    return ("w0", *(f" w{i}" for i in range(1, n)))


UNICODE_ANSWER = (
    'Grüße, 世界 🌍! naïve café — “quotes” "straight" \\ back\\slash\nnew line\ttab &amp; <b>'
)
DEMO_ANSWER = (
    "lyzr-stream turns agent chat APIs into ordinary streaming LLMs: ChatLyzr for LangChain "
    "and LyzrLLM for LlamaIndex. Tokens reach you as the agent writes them, sessions map to "
    "the agent's server-side memory, and errors keep the text you already received."
)


@agent("echo")
def _echo(call: AgentCall) -> Answer:
    return Answer(words(f"You said: {call.message}"))


_CONTEXT = re.compile(r"\A<lyzr-stream:context>.*?</lyzr-stream:context>\s*", re.S)


def _user_words(text: str) -> str:
    """A user turn without the context block lyzr-stream puts in front of it."""
    return _CONTEXT.sub("", text)


@agent("memory")
def _memory(call: AgentCall) -> Answer:
    """Repeats the user's earlier turns: from the transcript the request carries, when it
    carries one (stateless calls: ``messages``, or the ``Conversation so far:`` text), else from
    the session's memory. The prompt wins, as it does for a real agent. The context block
    lyzr-stream puts in front of a turn is not the user's words."""
    earlier = transcript_user_turns(call)
    if earlier is None:
        earlier = [text for role, text in call.history if role == "user"]
    earlier = [_user_words(text) for text in earlier]
    if not earlier:
        return Answer(words("This is the start of our conversation."))
    return Answer(words("Earlier you said: " + " | ".join(earlier)))


#: How lyzr-stream writes a stateless transcript into ``message`` (``transcript_text``).
_TRANSCRIPT_TEXT = re.compile(r"(?:^|\n\n)Conversation so far:\n(.*?)(?:\n\n|$)", re.DOTALL)


def transcript_user_turns(call: AgentCall) -> list[str] | None:
    """The user's earlier turns in the transcript a request carries (the current turn left
    out), or None when it carries none: ``messages`` with more than one user entry, or a
    ``message`` holding a ``Conversation so far:`` block of ``User:``/``Assistant:`` lines."""
    if call.messages:
        users = [_entry_text(m) for m in call.messages if m.get("role") == "user"]
        return users[:-1] if len(users) > 1 else None
    found = _TRANSCRIPT_TEXT.search(call.message)
    if found is None:
        return None
    return [
        line.removeprefix("User: ")
        for line in found.group(1).splitlines()
        if line.startswith("User: ")
    ]


def _entry_text(entry: Mapping[str, Any]) -> str:
    content = entry.get("content")
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, Mapping)]
        return "".join(p for p in parts if isinstance(p, str))
    return content if isinstance(content, str) else ""


@agent("long")
def _long(call: AgentCall) -> Answer:
    return Answer(_long_tokens(call.param or 1000))


@agent("reasoning")
def _reasoning(call: AgentCall) -> Answer:
    return Answer(("<thi", "nk>Let me ", "think about it.</th", "ink>The answer", " is 42."))


@agent("fail-midway")
def _fail_midway(call: AgentCall) -> Answer:
    return Answer(("Partial", " answer"), error="Agent crashed midway")


@agent("vars")
def _vars(call: AgentCall) -> Answer:
    spv = json.dumps(dict(call.system_prompt_variables), sort_keys=True)
    fv = json.dumps(dict(call.filter_variables), sort_keys=True)
    return Answer(words(f"system_prompt_variables={spv} filter_variables={fv}"))


@agent("artifacts")
def _artifacts(call: AgentCall) -> Answer:
    files = (
        {"name": "report.txt", "url": "https://example.invalid/report.txt", "type": "text/plain"},
    )
    return Answer(words(f"You said: {call.message}"), artifacts=files)


@agent("unicode")
def _unicode(call: AgentCall) -> Answer:
    text = UNICODE_ANSWER
    return Answer(tuple(text[i : i + 3] for i in range(0, len(text), 3)))


@agent("tools")
def _tools(call: AgentCall) -> Answer:
    """Runs a "search" tool on the server, then answers (tool activity to watch)."""
    return Answer(
        words(f"Found 2 results for {call.message}."),
        activity=(
            ("call", "search", {"query": call.message}),
            ("result", "search", {"hits": 2, "top": "lyzr-stream docs"}),
        ),
    )


@agent("demo")
def _demo(call: AgentCall) -> Answer:
    return Answer(words(DEMO_ANSWER), delay=0.02)


@agent("slow")
def _slow(call: AgentCall) -> Answer:
    """The demo answer four times over at 50 ms a word (about ten seconds): time to interrupt."""
    return Answer(words(" ".join([DEMO_ANSWER] * 4)), delay=0.05)


@agent("react")
def _react(call: AgentCall) -> Answer:
    """Speaks the ReAct text format: asks for the first listed tool, then answers.

    With an ``Observation:`` in what it was sent, it answers with that observation; otherwise it
    calls the first ``> Tool Name:`` of the prompt with the last two integers of the message as
    ``a`` and ``b``.
    """
    prompt = call.message
    conversation = call.message.rsplit("## Current Conversation", 1)[-1]
    if call.messages:
        prompt = "\n".join(str(m.get("content", "")) for m in call.messages)
        conversation = "\n".join(
            str(m.get("content", "")) for m in call.messages if m.get("role") != "system"
        )
    if "Observation:" in conversation:
        observation = conversation.rsplit("Observation:", 1)[1].strip().splitlines()[0]
        return Answer(
            words(
                f"Thought: I can answer without using any more tools.\n"
                f"Answer: The result is {observation}."
            )
        )
    text = prompt
    tool = re.search(r"> Tool Name: (\S+)", text)
    numbers = re.findall(r"-?\d+", text.rsplit("> Tool Name:", 1)[-1])
    if tool is None or len(numbers) < 2:
        return Answer(words("Thought: No tool fits.\nAnswer: I cannot help with that."))
    a, b = int(numbers[-2]), int(numbers[-1])
    args = json.dumps({"a": a, "b": b})
    return Answer(
        words(
            f"Thought: I need to use a tool to help me answer the question.\n"
            f"Action: {tool.group(1)}\nAction Input: {args}"
        )
    )


# -- the forms the official Lyzr clients accept (docs/wire.md, "What the official clients do") --
ARTIFACT_FILE = {
    "name": "report.pdf",
    "file_url": "https://example.invalid/report.pdf",
    "format_type": "pdf",
    "artifact_id": "art-1",
}


@agent("ampersand")
def _ampersand(call: AgentCall) -> Answer:
    """Escapes ``&`` as ``\\&`` in the v3 text form (the real service may)."""
    return Answer(words("Tom & Jerry & friends"), escape="backslash-amp")


@agent("think-midway")
def _think_midway(call: AgentCall) -> Answer:
    """A reasoning block in the middle of the answer, its tags cut across fragments."""
    return Answer(
        ("First part.", "<thi", "nk>checking the", " facts</thi", "nk>", " Second part.")
    )


@agent("artifacts-inline")
def _artifacts_inline(call: AgentCall) -> Answer:
    """An ``<artifacts>`` block in the middle of the answer, cut across fragments."""
    block = f"<artifacts>{json.dumps([ARTIFACT_FILE])}</artifacts>"
    return Answer(("Here is the report:", "\n", block[:7], block[7:40], block[40:], "\nDone."))


@agent("unknown-events")
def _unknown_events(call: AgentCall) -> Answer:
    """JSON events of types no document lists, between the text (kept as metadata)."""
    return Answer(
        ("Hello", " world"),
        json_events=((1, {"type": "progress", "step": 1}), (2, {"note": "no known key"})),
    )


@agent("split-escapes")
def _split_escapes(call: AgentCall) -> Answer:
    """Escapes cut between events in the v3 text form: ``\\u00`` + ``e9``, a surrogate pair,
    ``\\`` + ``&``."""
    return Answer(
        ("café", " smile 😀", " Tom & Jerry"),
        wire_fragments=("caf\\u00", "e9 smile \\uD83D", "\\uDE00 Tom \\", "& Jerry"),
    )


@agent("lone-surrogate")
def _lone_surrogate(call: AgentCall) -> Answer:
    """A surrogate without its second half (escaped on the wire, as JSON encoders do)."""
    return Answer(("before ", "\ud83d", " after"))
