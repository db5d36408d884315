"""Where the examples connect: the real service when configured, else the embedded emulator.

Set ``LYZR_API_KEY`` and ``LYZR_AGENT_ID`` (and optionally ``LYZR_BASE_URL``) to use a real
agent. Otherwise an emulator is started on a free loopback port for the life of the process.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    agent_id: str
    api_key: str
    base_url: str | None
    emulated: bool


def connect(emulator_agent: str = "demo") -> Target:
    """The agent to talk to: ``LYZR_AGENT_ID`` on the real service, or an emulated agent."""
    key, agent = os.environ.get("LYZR_API_KEY"), os.environ.get("LYZR_AGENT_ID")
    if key and agent:
        return Target(agent, key, os.environ.get("LYZR_BASE_URL"), emulated=False)
    from lyzr_stream.emulator import Emulator

    emulator = Emulator().start()
    atexit.register(emulator.stop)
    return Target(emulator_agent, emulator.api_key, emulator.base_url, emulated=True)
