"""Chat messages stream: ``POST /api/chats/{chatId}/messages/stream`` (wire forms pinned by
tests/wire/test_other_dialects_protocol.py).

The session id is the chat id (a UUID); the body is ``content`` (the message), ``modelId`` (the
agent id), ``userId`` and, optionally, ``workflowId`` (a UUID, set with
``dialect_options={"workflow_id": ...}``). Authentication is a session cookie: the API key is
sent as the cookie named ``cookie_name`` (default ``session``), or pass ``cookies=`` to the
client for a whole cookie jar.

Events: ``start {messageId}``, ``content {delta}``, ``tool_call {toolName, toolArgs}``,
``tool_result {toolName, result}``, ``end {messageId}``, ``error {error, message}``. The tools
run on the server: they become :class:`~lyzr_stream._events.ToolActivity` events to watch,
never tool calls for the client to run.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from .._errors import InvalidRequestError
from .._events import Metadata, ToolActivity
from .._request import AgentRequest
from ._base import Credentials, HttpRequest, ParsedEvent, encode_path_segment
from ._json_events import JsonEventParser, JsonEventsDialect, first_text

__all__ = ["ChatMessagesDialect", "ChatMessagesStreamParser"]


class ChatMessagesStreamParser(JsonEventParser):
    protocol = "chat-messages"

    def event_start(self, obj: Mapping[str, Any]) -> list[ParsedEvent]:
        message_id = obj.get("messageId")
        if isinstance(message_id, str):
            self.message_id = message_id
        return [Metadata("start", {"message_id": message_id})]

    def event_content(self, obj: Mapping[str, Any]) -> list[ParsedEvent]:
        return self.text(first_text(obj, "delta", "content", "text"))

    def event_tool_call(self, obj: Mapping[str, Any]) -> list[ParsedEvent]:
        name = first_text(obj, "toolName", "name")
        return [ToolActivity("call", name, arguments=obj.get("toolArgs"), raw=dict(obj))]

    def event_tool_result(self, obj: Mapping[str, Any]) -> list[ParsedEvent]:
        name = first_text(obj, "toolName", "name")
        return [ToolActivity("result", name, result=obj.get("result"), raw=dict(obj))]

    def event_end(self, obj: Mapping[str, Any]) -> list[ParsedEvent]:
        message_id = obj.get("messageId")
        if isinstance(message_id, str):
            self.message_id = message_id
        return self.end()

    def event_error(self, obj: Mapping[str, Any]) -> list[ParsedEvent]:
        code = first_text(obj, "error")
        message = first_text(obj, "message") or code
        return self.agent_failed(f"{code}: {message}" if code and code != message else message)


def _check_uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidRequestError(f"{what} must be a UUID, got {value!r}") from None


#: The namespace of the UUIDs a non-UUID session key maps to (uuid5 of the key).
SESSION_NAMESPACE = uuid.UUID("5f0c1a52-9d6e-4a8b-b1f3-6c2d7e8a9b10")


class ChatMessagesDialect(JsonEventsDialect):
    """A chat service with server-side tools and workflows (seed 004)."""

    name: ClassVar[str] = "chat-messages"
    default_base_url: ClassVar[str] = "http://localhost:3026"
    requires_api_key: ClassVar[bool] = False
    parser_class: ClassVar[type[JsonEventParser]] = ChatMessagesStreamParser

    def __init__(self, workflow_id: str | None = None, cookie_name: str = "session") -> None:
        self.workflow_id = _check_uuid(workflow_id, "workflow_id") if workflow_id else None
        if not cookie_name or not cookie_name.strip():
            raise InvalidRequestError("cookie_name must be a cookie name")
        self.cookie_name = cookie_name.strip()

    def new_session_id(self, agent_id: str) -> str:
        return str(uuid.uuid4())

    def session_id_for(self, key: str) -> str:
        """A UUID stays as it is; any other key maps to the same UUID every time (uuid5 in a
        namespace of this package), as the route's ``chatId`` must be a UUID."""
        try:
            return str(uuid.UUID(key))
        except ValueError:
            return str(uuid.uuid5(SESSION_NAMESPACE, key))

    def validate(self, request: AgentRequest) -> None:
        super().validate(request)
        _check_uuid(str(request.session_id), "session_id (the chat id)")

    def auth_headers(self, credentials: Credentials) -> dict[str, str]:
        """None: this service takes the key as a session cookie (see :meth:`stream_request`)."""
        return {}

    def stream_request(self, request: AgentRequest, credentials: Credentials) -> HttpRequest:
        headers = {"content-type": "application/json", "accept": "text/event-stream"}
        cookies = dict(credentials.cookies)
        if credentials.api_key is not None:
            cookies[self.cookie_name] = credentials.api_key.get_secret_value()
        chat_id = encode_path_segment(
            _check_uuid(str(request.session_id), "session_id (the chat id)"), "chat id"
        )
        body: dict[str, Any] = {
            "content": request.message,
            "modelId": request.agent_id,
            "userId": request.user_id,
        }
        if self.workflow_id:
            body["workflowId"] = self.workflow_id
        return HttpRequest("POST", f"/api/chats/{chat_id}/messages/stream", headers, body, cookies)

    def __repr__(self) -> str:
        return f"ChatMessagesDialect(workflow_id={self.workflow_id!r})"
