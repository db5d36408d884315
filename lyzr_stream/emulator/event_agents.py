"""Scripted agents that run "server tools" and report them on the agent events channel.

``server-tools`` (``server-tools-<ms>``: that many milliseconds between its steps, default 20)
answers in Lyzr v3 form after publishing, on the session's socket, what a Lyzr manager agent
reports while it works: it searches the web, looks up a knowledge base and asks a sub-agent,
with the noise the real channel carries (``ping``, a ``keepalive`` object, a non-JSON
``[ERROR] ...`` line). While the answer streams it re-sends one entry unchanged; after the
answer ended (0.2 s after ``[DONE]`` was sent) it updates an earlier entry (same ``log_id``)
and reports the end of the run.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from .agent_events import hub_of
from .agents import AgentCall, Answer, agent, words

__all__ = ["LATE_AFTER", "SERVER_TOOLS_ANSWER", "SERVER_TOOLS_STEPS", "server_tools_script"]

#: Seconds after the answer's end (``[DONE]`` sent) when the late events are published.
LATE_AFTER = 0.2
_FRAGMENT_DELAY = 0.02
#: Quiet time between the last event before the answer and its first fragment, so that a
#: client sees them in that order even on a busy machine.
_MARGIN = 0.15

SERVER_TOOLS_ANSWER = (
    "Here is what I found about {topic}: the web, the knowledge base and the researcher agree "
    "that it streams tokens as they are written."
)
#: The tool steps (phase, tool name) the script reports, in order, all before the answer's text.
SERVER_TOOLS_STEPS = (
    ("call", "web_search"),
    ("result", "web_search"),
    ("call", "kb_lookup"),
    ("result", "kb_lookup"),
    ("call", "Researcher"),
    ("result", "Researcher"),
)


class _Script:
    """The messages of one run, with the fields every Lyzr event carries."""

    def __init__(self, call: AgentCall) -> None:
        self.call = call
        self.run_id = str(uuid.uuid4())
        self.trace_id = uuid.uuid4().hex
        self.process_log = str(uuid.uuid4())
        self.llm_log = str(uuid.uuid4())

    def event(self, event_type: str, **fields: Any) -> dict[str, Any]:
        fields.setdefault("log_id", str(uuid.uuid4()))
        return {
            "event_type": event_type,
            "timestamp": datetime.now(UTC).isoformat(),
            "level": fields.pop("level", "INFO"),
            "status": fields.pop("status", "completed"),
            "message": fields.pop("message", event_type.replace("_", " ")),
            "feature": fields.pop("feature", "agent"),
            "run_id": self.run_id,
            "trace_id": self.trace_id,
            "session_id": self.call.session_id,
            "agent_id": self.call.agent_id,
            "user_id": self.call.user_id,
            **fields,
        }

    def before_answer(self) -> list[Any]:
        query = self.call.message
        results = {"results": [{"title": f"{query} - overview", "url": "https://example.invalid/a"}]}
        return [
            "ping",
            self.event(
                "process_start", status="in_progress", message="Processing request",
                log_id=self.process_log,
            ),
            self.event("messages_retrieved", feature="memory", data=[]),
            self.event(
                "thinking", thinking=f"The user asks about {query}. Search the web first.",
                feature="tool_calling",
            ),
            self.event(
                "tool_call_prepare", function_name="web_search", arguments={"query": query},
                status="in_progress", feature="tool_calling",
            ),
            "[ERROR] cannot access local variable 'result' where it is not associated with a value",
            self.event(
                "tool_response", function_name="web_search", arguments={"query": query},
                response=json.dumps(results), execution_time=0.42, feature="tool_calling",
            ),
            self.event(
                "tool_call_prepare", tool_name="kb_lookup",
                tool_input=json.dumps({"query": query, "top_k": 2}), status="in_progress",
                feature="knowledge_base",
            ),
            self.event(
                "kb_documents_retrieved", feature="knowledge_base",
                message="Retrieved 2 documents", data={"documents": ["guide.md", "faq.md"]},
            ),
            self.event(
                "tool_output", tool_name="kb_lookup", tool_output="guide.md: tokens stream live",
                feature="knowledge_base",
            ),
            {"event_type": "keepalive"},
            self.event(
                "tool_call_prepare",
                arguments={"name": "Researcher", "message": f"Summarise {query}"},
                thinking="Delegate the summary to the Researcher agent.",
                status="in_progress", feature="tool_calling",
            ),
            self.event(
                "tool_response",
                arguments={"name": "Researcher", "message": f"Summarise {query}"},
                response={"response": f"{query}: tokens are streamed as written."},
                feature="tool_calling",
            ),
            self.llm_generation(),
        ]

    def llm_generation(self) -> dict[str, Any]:
        return {
            "event_type": "llm_generation",
            "timestamp": "2026-01-01T00:00:00+00:00",
            "level": "INFO",
            "status": "in_progress",
            "message": "Generating the answer",
            "log_id": self.llm_log,
            "session_id": self.call.session_id,
            "model": "gpt-4o-mini",
            "provider": "openai",
        }

    def after_answer(self) -> list[Any]:
        return [
            self.event("llm_response", level="SUCCESS", feature="llm", response="(the answer)"),
            self.event(
                "process_start", status="completed", message="Processing request",
                log_id=self.process_log,
            ),
            self.event("agent_process_end", level="SUCCESS", message="Agent finished"),
        ]


def server_tools_script(call: AgentCall) -> tuple[list[Any], list[Any], list[Any]]:
    """The messages published before, during and after the answer (for tests to compare)."""
    script = _Script(call)
    return script.before_answer(), [script.llm_generation()], script.after_answer()


async def _publish_during(
    app: Any, session_id: str, during: list[Any], after: list[Any], answer_seconds: float
) -> None:
    hub, state = hub_of(app), app.state.emulator
    turns = len(state.history(session_id))
    await asyncio.sleep(answer_seconds / 2)
    for message in during:
        hub.publish(session_id, message)
    # After the answer: the route records the assistant's turn once the whole body was sent
    # (however slow a busy machine made it); the late events follow it.
    deadline = asyncio.get_running_loop().time() + 60
    while len(state.history(session_id)) <= turns:
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.01)
    await asyncio.sleep(LATE_AFTER)
    for message in after:
        hub.publish(session_id, message)


_background: set[asyncio.Task[None]] = set()


@agent("server-tools")
def _server_tools(call: AgentCall) -> Answer:
    step = (call.param if call.param is not None else 20) / 1000
    fragments = words(SERVER_TOOLS_ANSWER.format(topic=call.message))
    before, during, after = server_tools_script(call)

    async def work(request: Any) -> None:
        hub = hub_of(request.app)
        for message in before:
            hub.publish(call.session_id, message)
            await asyncio.sleep(step)
        await asyncio.sleep(_MARGIN)
        answer_seconds = len(fragments) * _FRAGMENT_DELAY
        task = asyncio.get_running_loop().create_task(
            _publish_during(request.app, call.session_id, during, after, answer_seconds)
        )
        _background.add(task)
        task.add_done_callback(_background.discard)

    return Answer(fragments, delay=_FRAGMENT_DELAY, prelude=work)

