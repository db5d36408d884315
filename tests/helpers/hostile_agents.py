"""Emulator agents that send what a careless service could, registered on import:

- ``surrogates``: a lone surrogate (a message cut inside an emoji) in every kind of event:
  answer text, reasoning, metadata, and on the agent events channel a tool call, a tool result,
  an agent event and a thought. Everything goes out escaped (``\\ud83d``), as a service's JSON
  encoder writes it: a lone surrogate cannot be sent as UTF-8.
- ``deep-events``: 200,000-deep JSON on the agent events channel (a whole message, a cut one,
  a tool input string), between two ordinary events.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lyzr_stream.emulator.agent_events import hub_of
from lyzr_stream.emulator.agents import AgentCall, Answer, agent

__all__ = ["AGENT", "CHANNEL_MESSAGES", "DEEP_AGENT", "LONE"]

AGENT = "surrogates"
DEEP_AGENT = "deep-events"
LONE = "\ufffd"  # what a lone surrogate becomes
#: The agent events, as raw (escaped) JSON text.
CHANNEL_MESSAGES = (
    r'{"event_type": "tool_call_prepare", "log_id": "1", "function_name": "web\ud83d",'
    r' "arguments": {"query": "cut \ud83d"}, "message": "calling \udc00"}',
    r'{"event_type": "tool_response", "log_id": "2", "function_name": "web\ud83d",'
    r' "response": "{\"hits\": \"\\ud83d\"}"}',
    r'{"event_type": "kb_documents_retrieved", "log_id": "3", "status": "done\ud83d",'
    r' "message": "found \ud83d", "data": {"doc\udc00": "x"}}',
    r'{"event_type": "thinking", "log_id": "4", "thinking": "hmm \ud83d"}',
)


@agent(AGENT)
def _surrogates(call: AgentCall) -> Answer:
    async def publish(request: Any) -> None:
        hub = hub_of(request.app)
        for message in CHANNEL_MESSAGES:
            hub.publish(call.session_id, message)
        await asyncio.sleep(0.2)  # delivered before the answer starts

    return Answer(
        ("<think>why \ud83d</think>", "half \ud83d", " and more"),
        json_events=((2, {"note": "meta \ud83d"}),),
        prelude=publish,
    )


_DEEP = 200_000
_DEEP_MESSAGES = (
    '{"event_type": "process_start", "log_id": "a", "message": "before"}',
    '{"event_type": "x", "data": ' + "[" * _DEEP + "]" * _DEEP + "}",
    '{"a":' * _DEEP,
    '{"event_type": "tool_call_prepare", "log_id": "b", "tool_name": "t", "tool_input": "'
    + "[" * _DEEP
    + '"}',
    '{"event_type": "process_end", "log_id": "c", "message": "after"}',
)


@agent(DEEP_AGENT)
def _deep_events(call: AgentCall) -> Answer:
    async def publish(request: Any) -> None:
        hub = hub_of(request.app)
        for message in _DEEP_MESSAGES:
            hub.publish(call.session_id, message)
        await asyncio.sleep(0.3)  # delivered before the answer starts

    return Answer(("the answer", " is whole"), prelude=publish)
