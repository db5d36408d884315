"""What the emulator recorded: the bodies of the agent calls, and their local-tools feature."""

from __future__ import annotations

from typing import Any

from lyzr_stream.emulator import Emulator


def agent_bodies(em: Emulator) -> list[dict[str, Any]]:
    """The JSON bodies of the recorded agent calls (the ``/v3/inference/`` routes)."""
    return [r.json for r in em.requests if r.path.startswith("/v3/inference/")]


def local_tools(body: dict[str, Any]) -> dict[str, Any]:
    """The config of a request body's ``local_tools`` feature."""
    return next(f for f in body["features"] if f["type"] == "local_tools")["config"]
