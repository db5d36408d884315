"""Lyzr Agent API v3: ``/v3/inference/stream/`` and ``/v3/inference/chat/`` (PROTOCOLS.md §1).

Stream payloads, each one SSE ``data:`` field:

- escaped plain text (decoded in one pass, see :mod:`lyzr_stream.unescape`);
- a JSON object with ``content`` and/or ``delta`` text, optionally ``metadata``;
- ``{"type": "local_tool_call", ...}``: the agent asks the client to run tools;
- ``[DONE]`` (end) and ``[ERROR] <message>`` (the agent failed).

Telling text from JSON: an escaped text fragment never holds a bare ``"`` (quotes arrive as
``\\"`` or ``&quot;``), so a payload starting ``{"`` is JSON and must parse; any other payload
starting ``{`` is JSON only if it parses to an object with a known key, and text otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

from ..errors import APIResponseValidationError, StreamInterruptedError, excerpt
from ..events import Metadata, StreamEnd, TextDelta
from ..local_tools import local_tools_feature, tool_call_request_from_payload
from ..request import AgentRequest
from ..response import AgentResponse, ResponseBuilder
from ..sse import ServerSentEvent, SSEDecoder, plain_data_payloads
from ..think import ThinkSplitter
from ..unescape import unescape_fragment
from .base import Credentials, Dialect, HttpRequest, ParsedEvent, StreamFailure, agent_error
from .common import JsonBodyParser, UnexpectedContentParser, media_type

__all__ = [
    "LyzrV3Dialect",
    "LyzrV3StreamParser",
    "api_key_headers",
    "build_body",
    "document_events",
    "payload_events",
]

STREAM_PATH = "/v3/inference/stream/"
CHAT_PATH = "/v3/inference/chat/"
_JSON_KEYS = frozenset({"content", "delta", "metadata", "type", "message_id", "error"})


def build_body(request: AgentRequest) -> dict[str, Any]:
    """The JSON body shared by the stream and chat endpoints (and by v2, a subset)."""
    body: dict[str, Any] = {
        "user_id": request.user_id,
        "agent_id": request.agent_id,
        "session_id": request.session_id,
        "message": request.message,
    }
    if request.system_prompt_variables:
        body["system_prompt_variables"] = dict(request.system_prompt_variables)
    if request.filter_variables:
        body["filter_variables"] = dict(request.filter_variables)
    features = [dict(f) for f in request.features]
    if request.tools:
        features.append(local_tools_feature(request.tools, request.tool_choice))
    if features:
        body["features"] = features
    if request.assets:
        body["assets"] = list(request.assets)
    if request.messages is not None:
        body["messages"] = [m.to_wire() for m in request.messages]
    if request.response_format is not None:
        body["response_format"] = dict(request.response_format)
    return body


def api_key_headers(credentials: Credentials, accept: str) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": accept}
    if credentials.api_key is not None:
        headers["x-api-key"] = credentials.api_key.get_secret_value()
    return headers


def _json_object_events(obj: Mapping[str, Any]) -> list[ParsedEvent]:
    """Events for one JSON payload (stream event form 2 or 3)."""
    if obj.get("type") == "local_tool_call":
        try:
            return [tool_call_request_from_payload(obj)]
        except APIResponseValidationError as exc:
            return [StreamFailure(exc)]
    events: list[ParsedEvent] = []
    text = obj.get("content")
    if not isinstance(text, str) or not text:
        text = obj.get("delta")
    if isinstance(text, str) and text:
        events.append(TextDelta(text))
    meta = obj.get("metadata")
    if isinstance(meta, Mapping) and meta:
        events.append(Metadata("metadata", dict(meta)))
    if isinstance(obj.get("message_id"), str):
        events.append(Metadata("metadata", {"message_id": obj["message_id"]}))
    error = obj.get("error")
    if error and not text:
        events.append(agent_error(error if isinstance(error, str) else json.dumps(error)))
    return events


def payload_events(payload: str) -> list[ParsedEvent] | None:
    """Events for one JSON payload, or ``None`` when the payload is plain text."""
    if payload[:1] != "{":
        return None
    try:
        obj = json.loads(payload)
    except ValueError:
        if payload[:2] == '{"':
            return [
                StreamFailure(
                    APIResponseValidationError(
                        "a stream event is invalid JSON", body_excerpt=excerpt(payload)
                    )
                )
            ]
        return None
    if isinstance(obj, dict) and not _JSON_KEYS.isdisjoint(obj):
        return _json_object_events(obj)
    return None


def _has_markers(text: str) -> bool:
    """Whether some event in ``text`` may be JSON or ``[DONE]``/``[ERROR]`` (the slow path)."""
    return text[6:7] in ("[", "{") or "\n\ndata: [" in text or "\n\ndata: {" in text


def _json_texts(payloads: list[str], text: str) -> list[str] | None:
    """The texts of a read made only of ``{"content": ...}`` (or ``{"delta": ...}``) events,
    parsed with one ``json.loads``; None for anything else (the per-event path handles it)."""
    if text.count("data: {") != len(payloads):
        return None
    try:
        objects = json.loads("[" + ",".join(payloads) + "]")
    except ValueError:
        return None
    texts = []
    for obj in objects:
        if type(obj) is not dict or len(obj) != 1:
            return None
        value = obj.get("content", obj.get("delta"))
        if type(value) is not str:
            return None
        texts.append(value)
    return texts


def _plain_deltas(payloads: list[str], escaped: bool) -> list[ParsedEvent]:
    """A read of plain-text events, one delta per event (coalescing off), parsed in bulk."""
    if escaped:
        payloads = [unescape_fragment(p) for p in payloads]
    return [TextDelta(p) for p in payloads if p]


class LyzrV3StreamParser:
    """Bytes of a v3 ``text/event-stream`` response in, normalized events out."""

    __slots__ = ("_coalesce", "_done", "_failed", "_message_id", "_metadata", "_sse", "_think")

    def __init__(self, max_event_bytes: int, *, coalesce: bool = False) -> None:
        self._sse = SSEDecoder(max_event_bytes)
        self._coalesce = coalesce
        self._think = ThinkSplitter()
        self._done = False
        self._failed = False
        self._message_id: str | None = None
        self._metadata: dict[str, Any] = {}

    def feed(self, chunk: bytes) -> list[ParsedEvent]:
        if self._done or self._failed:
            return []
        try:
            text = self._sse.feed_text(chunk)
            payloads = plain_data_payloads(text)
            if payloads is not None:
                if not _has_markers(text):
                    if self._coalesce:
                        return self._plain_text(payloads)
                    if self._think.passthrough:
                        return _plain_deltas(payloads, "\\" in text or "&" in text)
                elif self._think.passthrough:
                    texts = _json_texts(payloads, text)
                    if texts is not None:
                        if self._coalesce:
                            joined = "".join(texts)
                            return [TextDelta(joined)] if joined else []
                        return [TextDelta(t) for t in texts if t]
            sse_events = self._sse.events_of(text)
        except APIResponseValidationError as exc:
            self._failed = True
            return [StreamFailure(exc)]
        return self._handle(sse_events)

    def _plain_text(self, payloads: list[str]) -> list[ParsedEvent]:
        """The fast path: a read of plain-text events becomes one delta (coalescing mode)."""
        text = "".join(payloads)
        if "\\" in text or "&" in text:
            # Unescaped fragment by fragment, exactly as one event at a time would be.
            text = "".join(map(unescape_fragment, payloads))
        if not text:
            return []
        if self._think.passthrough:
            return [TextDelta(text)]
        return list(self._think.feed(text))

    def _handle(self, sse_events: list[ServerSentEvent]) -> list[ParsedEvent]:
        out: list[ParsedEvent] = []
        think = self._think
        for sse in sse_events:
            data = sse.data
            first = data[:1]
            if first == "[":
                if data == "[DONE]":
                    self._end(out)
                    return out
                if data[:7] == "[ERROR]":
                    out.extend(think.finish())
                    out.append(agent_error(data[7:]))
                    self._failed = True
                    return out
            elif first == "{":
                parsed = payload_events(data)
                if parsed is not None:
                    for event in parsed:
                        if type(event) is TextDelta:
                            self._text(event.text, out)
                        else:
                            self._note(event)
                            out.append(event)
                            if type(event) is StreamFailure:
                                self._failed = True
                                return out
                    continue
            if not data:
                continue
            text = unescape_fragment(data)
            if think.passthrough:
                out.append(TextDelta(text))
            else:
                out.extend(think.feed(text))
        return out

    def finish(self) -> list[ParsedEvent]:
        if self._done or self._failed:
            return []
        try:
            out = self._handle(self._sse.finish())
        except APIResponseValidationError as exc:
            return [StreamFailure(exc)]
        if self._ended():
            return out
        out.extend(self._think.finish())
        out.append(
            StreamFailure(
                StreamInterruptedError(
                    "the stream ended without [DONE]: the connection was cut or the server "
                    "stopped early"
                )
            )
        )
        return out

    def _ended(self) -> bool:
        return self._done or self._failed

    def _text(self, text: str, out: list[ParsedEvent]) -> None:
        if self._think.passthrough:
            out.append(TextDelta(text))
        else:
            out.extend(self._think.feed(text))

    def _note(self, event: ParsedEvent) -> None:
        if isinstance(event, Metadata):
            message_id = event.data.get("message_id")
            if isinstance(message_id, str):
                self._message_id = message_id
            self._metadata.update(event.data)

    def _end(self, out: list[ParsedEvent]) -> None:
        out.extend(self._think.finish())
        self._done = True
        out.append(StreamEnd(self._message_id, "stop", self._metadata))


def document_events(document: Mapping[str, Any]) -> list[ParsedEvent]:
    """A whole JSON answer (the one-shot shape) as stream events."""
    out: list[ParsedEvent] = []
    if document.get("requires_local_execution"):
        try:
            out.append(tool_call_request_from_payload(document))
        except APIResponseValidationError as exc:
            return [StreamFailure(exc)]
    text = document.get("response")
    if isinstance(text, str) and text:
        think = ThinkSplitter()
        out.extend(think.feed(text))
        out.extend(think.finish())
    metadata: dict[str, Any] = {}
    if isinstance(document.get("metadata"), Mapping):
        metadata.update(document["metadata"])
    artifacts = (document.get("module_outputs") or {}).get("artifact_files")
    if isinstance(artifacts, list) and artifacts:
        metadata["artifact_files"] = artifacts
    if isinstance(document.get("session_id"), str):
        metadata["session_id"] = document["session_id"]
    message_id = document.get("message_id")
    out.append(StreamEnd(message_id if isinstance(message_id, str) else None, "stop", metadata))
    return out


class LyzrV3Dialect(Dialect):
    """The Lyzr Agent API v3 (the default dialect)."""

    name: ClassVar[str] = "lyzr-v3"
    default_base_url: ClassVar[str] = "https://agent-prod.studio.lyzr.ai"
    has_chat_endpoint: ClassVar[bool] = True

    def stream_request(self, request: AgentRequest, credentials: Credentials) -> HttpRequest:
        headers = api_key_headers(credentials, "text/event-stream")
        return HttpRequest("POST", STREAM_PATH, headers, build_body(request))

    def chat_request(self, request: AgentRequest, credentials: Credentials) -> HttpRequest:
        headers = api_key_headers(credentials, "application/json")
        return HttpRequest("POST", CHAT_PATH, headers, build_body(request))

    def stream_parser(
        self, content_type: str, *, max_event_bytes: int, coalesce: bool = False
    ) -> LyzrV3StreamParser | JsonBodyParser | UnexpectedContentParser:
        kind = media_type(content_type)
        if kind in ("text/event-stream", ""):
            return LyzrV3StreamParser(max_event_bytes, coalesce=coalesce)
        if kind == "application/json":
            return JsonBodyParser(document_events, max_event_bytes)
        return UnexpectedContentParser(content_type)

    def parse_chat(self, body: bytes, request: AgentRequest) -> AgentResponse:
        parser = JsonBodyParser(document_events, max(len(body), 1))
        parser.feed(body)
        builder = ResponseBuilder()
        for event in parser.finish():
            if isinstance(event, StreamFailure):
                raise event.error
            builder.add(event)
        try:
            raw = json.loads(body)
        except ValueError:  # pragma: no cover - finish() already rejected it
            raw = None
        session_id = raw.get("session_id") if isinstance(raw, dict) else None
        response = builder.build(
            agent_id=request.agent_id,
            session_id=session_id if isinstance(session_id, str) else str(request.session_id),
            user_id=str(request.user_id),
        )
        return replace(response, raw=raw if isinstance(raw, dict) else None)
