"""AISquare Studio QLLM: ``POST /api/v1/qllm/chat-stream/{session_id}/`` (wire forms pinned by
tests/wire/test_other_dialects_protocol.py).

The session id is an integer in the path (an existing chat session); the body is
``{"prompt": ...}``. Agent id and user id are not sent (the session determines both); the agent
id still names the model in framework results. The auth scheme is not documented, so the header
is configurable: by default ``Authorization: Bearer <api key>``
(``dialect_options={"auth_header": "X-API-Key", "auth_scheme": ""}`` sends the bare key).

Events are SSE with a JSON ``type``: ``start``, ``token`` (text under ``token``, ``content``,
``delta`` or ``text``), ``complete``, ``metadata`` (message info, suggestions, title: kept
whole), ``end`` and ``error``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

from .._errors import InvalidRequestError
from .._events import Metadata
from .._request import AgentRequest
from ._base import Credentials, HttpRequest, ParsedEvent, encode_path_segment
from ._json_events import JsonEventParser, JsonEventsDialect, first_text

__all__ = ["AISquareDialect", "AISquareStreamParser"]


class AISquareStreamParser(JsonEventParser):
    protocol = "aisquare"

    def event_start(self, obj: Mapping[str, Any]) -> list[ParsedEvent]:
        return [Metadata("start", {k: v for k, v in obj.items() if k != "type"})]

    def event_token(self, obj: Mapping[str, Any]) -> list[ParsedEvent]:
        return self.text(first_text(obj, "token", "content", "delta", "text"))

    def event_complete(self, obj: Mapping[str, Any]) -> list[ParsedEvent]:
        self.metadata["complete"] = True
        return []

    def event_metadata(self, obj: Mapping[str, Any]) -> list[ParsedEvent]:
        payload = obj.get("metadata", obj.get("data"))
        data = (
            dict(payload)
            if isinstance(payload, Mapping)
            else {k: v for k, v in obj.items() if k != "type"}
        )
        message_id = data.get("message_id", data.get("messageId"))
        if isinstance(message_id, (str, int)):
            self.message_id = str(message_id)
        self.metadata.update(data)
        return [Metadata("metadata", data)]

    def event_error(self, obj: Mapping[str, Any]) -> list[ParsedEvent]:
        return self.agent_failed(first_text(obj, "error", "message", "detail"))


class AISquareDialect(JsonEventsDialect):
    """AISquare Studio's streaming QLLM chat."""

    name: ClassVar[str] = "aisquare"
    default_base_url: ClassVar[str] = "https://api.aisquare.studio"
    parser_class: ClassVar[type[JsonEventParser]] = AISquareStreamParser
    makes_sessions: ClassVar[bool] = False

    def __init__(self, auth_header: str = "Authorization", auth_scheme: str = "Bearer") -> None:
        if not auth_header or not auth_header.strip():
            raise InvalidRequestError("auth_header must be a header name")
        self.auth_header = auth_header.strip()
        self.auth_scheme = auth_scheme.strip()

    def new_session_id(self, agent_id: str) -> str:
        raise InvalidRequestError(
            "the aisquare dialect needs session_id: the integer id of an existing chat session"
        )

    def session_id_for(self, key: str) -> str:
        """An integer key stays as it is; any other key maps to the same integer every time
        (the first 12 hex digits of its SHA-256). The service only answers for chat sessions
        that exist: create one and pass its id to continue it there."""
        if key.isdecimal():
            return key
        return str(int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:12], 16))

    def validate(self, request: AgentRequest) -> None:
        super().validate(request)
        session_id = str(request.session_id)
        if not session_id.isdecimal():
            raise InvalidRequestError(
                f"the aisquare dialect needs session_id to be the integer id of a chat session, "
                f"got {session_id!r}"
            )

    def auth_headers(self, credentials: Credentials) -> dict[str, str]:
        """The key in ``auth_header``, after ``auth_scheme`` (``Authorization: Bearer <key>``)."""
        if credentials.api_key is None:
            return {}
        key = credentials.api_key.get_secret_value()
        return {self.auth_header.lower(): f"{self.auth_scheme} {key}" if self.auth_scheme else key}

    def stream_request(self, request: AgentRequest, credentials: Credentials) -> HttpRequest:
        headers = {"content-type": "application/json", "accept": "text/event-stream"}
        headers.update(self.auth_headers(credentials))
        session = encode_path_segment(str(int(str(request.session_id))), "session_id")
        path = f"/api/v1/qllm/chat-stream/{session}/"
        return HttpRequest("POST", path, headers, {"prompt": request.message})

    def __repr__(self) -> str:
        return (
            f"AISquareDialect(auth_header={self.auth_header!r}, auth_scheme={self.auth_scheme!r})"
        )
