"""Sessions and variables: the same session id remembers, a fresh one does not, and
``system_prompt_variables`` reach the request.

Memory is read back through the session-history route, on both targets. The emulator's
``memory`` agent also says which earlier turns it was given, so there the reply itself shows
that the first turn was in the agent's history.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from lyzr_stream import AgentRequest, LyzrClient, SessionMessage
from lyzr_stream.emulator import Emulator

from .contract import Target
from .support import Wire, agent_of


def _history(
    client: LyzrClient, session_id: str, expect: Callable[[list[SessionMessage]], bool], real: bool
) -> list[SessionMessage]:
    """The session's history; on a real service, waited for a few seconds (its memory may be
    written after the answer)."""
    deadline = time.monotonic() + (15.0 if real else 0.0)
    while True:
        history = client.session_history(session_id)
        if expect(history) or time.monotonic() >= deadline:
            return history
        time.sleep(1.0)


@pytest.mark.live(item="session-memory", runs=2, needs=("memory",))
def test_the_same_session_id_remembers(
    target: Target, client: LyzrClient, emulator: Emulator | None
) -> None:
    agent = agent_of(target, "memory")
    session = client.new_session_id(agent)
    marker = f"zebra-{uuid.uuid4().hex[:6]}"
    first = f"Please remember the code word {marker}."
    client.chat(AgentRequest(agent_id=agent, session_id=session, message=first))
    second = client.chat(
        AgentRequest(agent_id=agent, session_id=session, message="What was the code word?")
    )
    assert second.text.strip()

    def both_turns(history: list[SessionMessage]) -> bool:
        users = [m.content for m in history if m.role in ("user", "human")]
        return len(users) >= 2

    history = _history(client, session, both_turns, real=emulator is None)
    users = [m.content for m in history if m.role in ("user", "human")]
    assert len(users) >= 2, f"history holds {len(history)} entries: {history!r:.300}"
    assert marker in users[0] and marker not in users[-1]
    assert any(m.role in ("assistant", "ai") for m in history)
    if emulator is not None:  # the reply was made with the first turn in its history
        assert marker in second.text


@pytest.mark.live(item="fresh-session", runs=2, needs=("memory",))
def test_a_fresh_session_does_not_remember(
    target: Target, client: LyzrClient, emulator: Emulator | None
) -> None:
    agent = agent_of(target, "memory")
    marker = f"walrus-{uuid.uuid4().hex[:6]}"
    told = client.new_session_id(agent)
    client.chat(
        AgentRequest(agent_id=agent, session_id=told, message=f"The code word is {marker}.")
    )
    fresh = client.new_session_id(agent)
    answer = client.chat(
        AgentRequest(agent_id=agent, session_id=fresh, message="What was the code word?")
    )
    assert answer.text.strip()

    def own_turn(history: list[SessionMessage]) -> bool:
        return any(m.role in ("user", "human") for m in history)

    history = _history(client, fresh, own_turn, real=emulator is None)
    users = [m.content for m in history if m.role in ("user", "human")]
    assert len(users) == 1, f"a fresh session's history: {history!r:.300}"
    assert not any(marker in m.content for m in history)
    if emulator is not None:  # the agent was given no earlier turn
        assert "start of our conversation" in answer.text


@pytest.mark.live(item="variables", runs=1, needs=("vars",))
def test_system_prompt_variables_reach_the_request(
    target: Target, wire: Callable[..., Wire], emulator: Emulator | None
) -> None:
    variables = {"customer_name": "Ada", "tone": "formal & brief"}
    w = wire()
    answer = w.client.chat(
        AgentRequest(
            agent_id=agent_of(target, "vars"),
            message="Greet me.",
            system_prompt_variables=variables,
        )
    )
    [body] = w.bodies("/v3/inference/chat/")
    assert body["system_prompt_variables"] == variables  # on the wire, on both targets
    assert answer.text.strip()  # and the service took them
    if emulator is not None:  # the agent received them (the emulator's vars agent says so)
        assert '"customer_name": "Ada"' in answer.text
