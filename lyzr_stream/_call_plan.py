"""``CallPlan``: one agent call, ready to send.

:class:`~lyzr_stream.LyzrClient` builds it in one place (request completed and checked by the
dialect, HTTP request built, body encoded, timeouts and retry policy resolved); the stream
classes and the one-shot chat only read it. Frozen: a retry sends exactly what the first attempt
sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._agent_stop import AgentStopper
    from ._http.limits import RetryPolicy, Timeouts
    from ._request import AgentRequest
    from ._settings import ClientSettings
    from .dialects._base import HttpRequest

__all__ = ["CallPlan"]


@dataclass(frozen=True, slots=True)
class CallPlan:
    """Everything one call needs from its client; built by ``LyzrClient._plan``."""

    settings: ClientSettings
    #: The caller's request with the user and session ids filled in, accepted by the dialect.
    request: AgentRequest
    http_request: HttpRequest
    url: str
    #: ``http_request``'s body, encoded once for every attempt.
    content: bytes
    timeouts: Timeouts
    retry: RetryPolicy
    #: Asks the service to stop the agent when a stream is left early (``stop_on_exit``).
    stopper: AgentStopper | None
    #: What must never appear in an error message (the key, header and cookie values).
    secrets: tuple[str, ...]

    @property
    def session_id(self) -> str:
        return str(self.request.session_id)
