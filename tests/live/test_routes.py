"""The two agent routes: stream and one-shot; escapes and tags; structured output.

Shapes and invariants only: a real agent answers as it likes. Where the emulator can say more
(it repeats what it was sent), that is checked on the emulator alone.
"""

from __future__ import annotations

import json

import pytest

from lyzr_stream import AgentRequest, LyzrClient, StreamEnd, TextDelta
from lyzr_stream._adapters.structured import json_in_text
from lyzr_stream.emulator import Emulator

from .contract import Target
from .support import agent_of, new_client

#: What an answer must never show once the package decoded it (escapes, entities, tags).
_RESIDUES: tuple[str, ...] = ('\\"', "\\n", "\\t", "\\&", "&amp;", "&quot;", "&#")
_RESIDUES += ("<think>", "</think>", "<artifacts>")


@pytest.mark.live(item="stream", runs=1, needs=("agent",))
def test_the_stream_route_delivers_the_answer_in_several_chunks(target: Target) -> None:
    # coalesce=False: one TextDelta per event the service sent, however the reads fell.
    with new_client(target, coalesce=False) as client:
        request = AgentRequest(
            agent_id=agent_of(target, "agent"),
            message="In two or three sentences: why do streamed answers feel faster?",
        )
        with client.stream(request) as events:
            seen = list(events)
    texts = [e.text for e in seen if isinstance(e, TextDelta) and e.text]
    assert len(texts) > 1, f"the answer came in {len(texts)} chunk(s)"
    assert "".join(texts).strip()
    assert isinstance(seen[-1], StreamEnd)


@pytest.mark.live(item="chat", runs=1, needs=("agent",))
def test_the_one_shot_route_returns_response_and_a_message_id(
    target: Target, client: LyzrClient
) -> None:
    answer = client.chat(AgentRequest(agent_id=agent_of(target, "agent"), message="Say hello."))
    assert answer.raw is not None and isinstance(answer.raw.get("response"), str)
    assert answer.text.strip() and answer.text == answer.raw["response"]
    assert isinstance(answer.message_id, str) and answer.message_id.strip()


_TRICKY = 'She said "yes" & he said \'no\'.\nSecond line\twith a tab & a backslash \\ here.'


@pytest.mark.live(item="escapes", runs=1, needs=("agent",))
def test_quotes_newlines_and_ampersands_arrive_unescaped(
    target: Target, emulator: Emulator | None
) -> None:
    with new_client(target) as client:
        request = AgentRequest(
            agent_id=agent_of(target, "agent"),
            message="Repeat this text exactly, then stop:\n" + _TRICKY,
        )
        with client.stream(request) as events:
            text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.strip()
    leaked = [r for r in _RESIDUES if r in text]
    assert not leaked, f"escape or tag residue {leaked} in the answer: {text[:300]!r}"
    if emulator is not None:  # the emulator repeats the message: the exact text is known
        assert _TRICKY in text


_CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
}


@pytest.mark.live(item="structured-output", runs=1, needs=("agent",))
def test_response_format_makes_the_answer_json_of_that_schema(target: Target) -> None:
    with new_client(target) as client:
        answer = client.chat(
            AgentRequest(
                agent_id=agent_of(target, "agent"),
                message="Name one large city and its population.",
                response_format=_CITY,
            )
        )
    value = json_in_text(answer.text)  # the package's one rule for JSON in an answer
    assert isinstance(value, dict), json.dumps(value)[:300]
    assert isinstance(value.get("city"), str) and value["city"]
    assert isinstance(value.get("population"), int)
