"""What the conformance tests share: each role's agent, clients, a wire recorder."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lyzr_stream import LyzrClient

from .contract import Role, Target

__all__ = ["Wire", "agent_of", "new_client"]


def agent_of(target: Target, role: Role) -> str:
    agent = target.agent(role)
    if agent is None:  # the setup hook skips first; kept for tests run without the plugin
        pytest.skip(f"{Target.variable_of(role)} is not set (needed against a real service)")
    return agent


def new_client(target: Target, **options: Any) -> LyzrClient:
    options.setdefault("api_key", target.api_key)
    options.setdefault("base_url", target.base_url)
    options.setdefault("events_url", target.events_url)
    return LyzrClient(**options)


class Wire:
    """A client whose every request's JSON body is kept as it went out (``sent``): what the
    request carried, checked the same way on both targets."""

    def __init__(self, target: Target, **options: Any) -> None:
        self.sent: list[tuple[str, str, Any]] = []
        self.http = httpx.Client(event_hooks={"request": [self._record]}, timeout=None)
        self.client = new_client(target, http_client=self.http, **options)

    def _record(self, request: httpx.Request) -> None:
        body: Any = None
        if request.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(request.read() or b"null")
        self.sent.append((request.method, request.url.path, body))

    def bodies(self, path_start: str) -> list[Any]:
        return [body for _, path, body in self.sent if path.startswith(path_start)]

    def close(self) -> None:
        self.client.close()
        self.http.close()
