"""Lyzr Agent API v2: ``POST /v2/stream/`` on ``https://agent.api.lyzr.app`` (wire forms pinned by
tests/wire/test_other_dialects_protocol.py).

Same four body fields as v3 (``user_id``, ``agent_id``, ``session_id``, ``message``) and the
``x-api-key`` header; nothing else can be carried. The response is read by its content type:
``text/event-stream`` as the v3 stream format; JSON as one whole answer; anything else as raw
UTF-8 text arriving incrementally, where the end of the body is the end of the answer.
"""

from __future__ import annotations

from typing import ClassVar

from .._request import AgentRequest
from ._base import MESSAGE_ONLY_UNSUPPORTED, Credentials, Dialect, HttpRequest, StreamParser
from ._lyzr_v3 import LyzrV3StreamParser, api_key_headers, document_events
from ._parsers import JsonBodyParser, RawTextParser, UnexpectedContentParser, media_type

__all__ = ["LyzrV2Dialect"]

STREAM_PATH = "/v2/stream/"


class LyzrV2Dialect(Dialect):
    """The older Lyzr v2 streaming endpoint."""

    name: ClassVar[str] = "lyzr-v2"
    provider_name: ClassVar[str | None] = "lyzr"
    default_base_url: ClassVar[str] = "https://agent.api.lyzr.app"
    unsupported_fields: ClassVar[frozenset[str]] = MESSAGE_ONLY_UNSUPPORTED

    def stream_request(self, request: AgentRequest, credentials: Credentials) -> HttpRequest:
        body = {
            "user_id": request.user_id,
            "agent_id": request.agent_id,
            "session_id": request.session_id,
            "message": request.message,
        }
        return HttpRequest("POST", STREAM_PATH, api_key_headers(credentials, "*/*"), body)

    def stream_parser(
        self, content_type: str, *, max_event_bytes: int, coalesce: bool = False
    ) -> StreamParser:
        kind = media_type(content_type)
        if kind == "text/event-stream":
            return LyzrV3StreamParser(max_event_bytes, coalesce=coalesce)
        if kind == "application/json":
            return JsonBodyParser(document_events, max_event_bytes)
        if kind == "text/html":
            return UnexpectedContentParser(content_type)
        return RawTextParser()
