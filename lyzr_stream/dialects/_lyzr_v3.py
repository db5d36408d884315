"""Lyzr Agent API v3: ``/v3/inference/stream/`` and ``/v3/inference/chat/`` (wire forms pinned by
tests/wire/test_lyzr_v3_protocol.py and tests/wire/test_lyzr_v3_official_forms.py).

Both routes are sent ``Accept: application/json``, as every official client does (the stream
route included). Stream payloads, each one SSE ``data:`` field:

- escaped plain text (decoded in one pass, see :mod:`lyzr_stream.dialects._unescape`; an escape cut
  between two events is decoded whole);
- a JSON object with ``content`` and/or ``delta`` text, optionally ``metadata``;
- ``{"type": "local_tool_call", ...}``: the agent asks the client to run tools;
- any other JSON object (an unknown ``type`` without text, or none of the known keys): kept
  whole as :class:`~lyzr_stream._events.Metadata` of that kind (``"unknown"`` without a type);
- ``[DONE]`` (end, trailing whitespace allowed) and ``[ERROR] <message>`` (the agent failed;
  an SSE ``event: error`` is the same, its data the message).

The answer text of every form, and the one-shot ``response``, goes through
:class:`~lyzr_stream.dialects._tags.TagSplitter`: ``<think>`` blocks become reasoning and
``<artifacts>`` blocks become artifacts wherever they appear, as the official clients show them.

Telling text from JSON (one rule, :func:`payload_events`): a payload that parses to a non-empty
JSON object is JSON; anything else that is not over the JSON limits (``{}``, ``{1}``, an
unescaped fragment ``{"answer": 4``) is answer text, as every official client shows it. A
payload over the limits (:func:`lyzr_stream._json.decode_or_text`: nesting deeper than
``MAX_DEPTH`` in what parses) fails the stream with ``APIResponseValidationError``.

Content type of a 200 on the stream route: the official clients do not look at it, so the body
is read as SSE whatever it says, except a JSON document (one whole answer, as from the chat
route) and an HTML page (a typed error: a proxy or a wrong base URL).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

from .._errors import APIResponseValidationError, StreamInterruptedError
from .._events import Metadata, StreamEnd, TextDelta, ToolActivity
from .._json import NOT_JSON, decode, decode_or_text
from .._request import AgentRequest
from .._response import AgentResponse, ResponseBuilder
from ._base import (
    Credentials,
    Dialect,
    HttpRequest,
    ParsedEvent,
    StreamFailure,
    agent_error,
    api_key_header,
    encode_path_segment,
)
from ._local_tools import local_tools_feature, tool_call_request_from_payload
from ._parsers import JsonBodyParser, SniffingParser, UnexpectedContentParser, media_type
from ._sse import ServerSentEvent, SSEDecoder, plain_data_payloads
from ._tags import TagSplitter
from ._unescape import FragmentUnescaper

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
STOP_PATH = "/v3/inference/session/{}/stop"


def build_body(request: AgentRequest) -> dict[str, Any]:
    """The JSON body shared by the stream and chat endpoints.

    ``message`` and ``messages`` are alternatives (as lyzr-adk sends them): a transcript goes
    out as ``messages`` with no ``message`` field.
    """
    body: dict[str, Any] = {
        "user_id": request.user_id,
        "agent_id": request.agent_id,
        "session_id": request.session_id,
    }
    if request.messages:
        body["messages"] = [m.to_wire() for m in request.messages]
    else:
        body["message"] = request.message
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
    if request.response_format is not None:
        body["response_format"] = dict(request.response_format)
    return body


def api_key_headers(credentials: Credentials, accept: str = "application/json") -> dict[str, str]:
    """JSON body, ``x-api-key``, and ``Accept`` (``application/json`` on both v3 routes, the
    stream included, as every official client sends)."""
    return {"content-type": "application/json", "accept": accept, **api_key_header(credentials)}


def _json_text(value: object) -> str:
    """A text field of a JSON event: only a non-empty string counts (lone surrogates were
    replaced when it was decoded)."""
    return value if isinstance(value, str) else ""


_TEXT_KEYS = frozenset({"content", "delta"})


def _json_object_events(obj: Mapping[str, Any]) -> list[ParsedEvent]:
    """Events for one JSON payload (stream event form 2 or 3, or one the docs do not list).

    An object with a ``type`` but no text, or with none of the known keys, is kept whole as
    ``Metadata(kind=<its type, or "unknown">)``: never answer text, never silently dropped.
    A ``type`` of ``"error"``, or an ``error`` field without text, fails the stream.
    """
    kind = obj.get("type")
    if kind == "local_tool_call":
        try:
            return [tool_call_request_from_payload(obj)]
        except APIResponseValidationError as exc:
            return [StreamFailure(exc)]
    text = _json_text(obj.get("content")) or _json_text(obj.get("delta"))
    events: list[ParsedEvent] = []
    if text:
        events.append(TextDelta(text))
    meta = obj.get("metadata")
    if isinstance(meta, Mapping) and meta:
        events.append(Metadata("metadata", dict(meta)))
    if isinstance(obj.get("message_id"), str):
        events.append(Metadata("metadata", {"message_id": obj["message_id"]}))
    if text:
        return events
    error = obj.get("error")
    if error or kind == "error":
        events.append(agent_error(_agent_error_text(obj)))
        return events
    kind_name = kind if isinstance(kind, str) and kind else ""
    if kind_name and kind_name != "metadata":
        events.insert(0, Metadata(kind_name, dict(obj)))
    elif not events and (kind_name or _TEXT_KEYS.isdisjoint(obj)):
        whole = {k: v for k, v in obj.items() if k != "type"}
        events.append(Metadata(kind_name or "unknown", whole if kind_name else dict(obj)))
    return events


def _agent_error_text(obj: Mapping[str, Any]) -> str:
    """The message of an error event: ``error`` (text or JSON), else ``message``/``detail``."""
    for key in ("error", "message", "detail"):
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value
    error = obj.get("error")
    return json.dumps(error if error else dict(obj), default=str)


def payload_events(payload: str) -> list[ParsedEvent] | None:
    """Events for one payload; ``None`` when it is answer text: anything but a non-empty JSON
    object (invalid JSON included, as the official clients show it). JSON over the limits
    (too deep, too large) is a failure, never text."""
    if payload[:1] != "{":
        return None
    try:
        obj = decode_or_text(payload, what="a stream event")
    except APIResponseValidationError as exc:
        return [StreamFailure(exc)]
    if not isinstance(obj, dict) or not obj:  # NOT_JSON, ``{}``
        return None
    return _json_object_events(obj)


def _has_markers(text: str) -> bool:
    """Whether some event in ``text`` may be JSON or ``[DONE]``/``[ERROR]`` (the slow path)."""
    return text[6:7] in ("[", "{") or "\n\ndata: [" in text or "\n\ndata: {" in text


def _may_hold_tag(text: str) -> bool:
    """Whether raw event text may decode to a ``<`` (a tag start): literally, as an HTML
    entity, or as a ``\\u003c`` escape (JSON encoders that escape HTML write that).

    Single-character tests first: a substring search costs a hundred times more."""
    return (
        "<" in text
        or ("&" in text and "&lt;" in text)
        or ("\\" in text and "\\u003" in text)
    )


def _json_texts(payloads: list[str], text: str) -> list[str] | None:
    """The texts of a read made only of ``{"content": ...}`` (or ``{"delta": ...}``) events,
    parsed with one ``json.loads``; None for anything else (the per-event path handles it)."""
    if text.count("data: {") != len(payloads):
        return None
    # Joined with ",\n": a string cannot hold a raw newline, so no two payloads can merge into
    # one value, and as many objects as payloads means each payload is one whole object (an
    # invalid one, answer text, sends the read to the per-event path). Shallow: the shape
    # check below admits only one-key objects holding a string.
    try:
        objects = decode_or_text(
            "[" + ",\n".join(payloads) + "]", what="a stream event", shallow=True
        )
    except APIResponseValidationError:  # the per-event path fails at the right event
        return None
    if objects is NOT_JSON or len(objects) != len(payloads):
        return None
    texts = []
    for obj in objects:
        if not isinstance(obj, dict) or len(obj) != 1:
            return None
        value = obj.get("content", obj.get("delta"))
        if not isinstance(value, str):
            return None
        texts.append(value)
    return texts


def _error_event(data: str) -> StreamFailure:
    """The failure an SSE ``event: error`` brings: an agent error whose message is its data, or
    the text field of a JSON body; a JSON body over the limits is that validation error."""
    try:
        obj = decode_or_text(data, what="an error event")
    except APIResponseValidationError as exc:
        return StreamFailure(exc)
    return agent_error(_agent_error_text(obj) if isinstance(obj, dict) and obj else data)


class LyzrV3StreamParser:
    """Bytes of a v3 ``text/event-stream`` response in, normalized events out.

    Text goes through two stages that keep state across events: the unescaper (an escape cut
    between events is decoded whole) and the tag splitter (``<think>`` and ``<artifacts>``
    blocks anywhere in the answer). :meth:`feed` is the general path; :meth:`_bulk_read` holds
    the fast paths, which skip both stages for reads that cannot need them (nothing escaped or
    held back, no ``<``).
    """

    __slots__ = (
        "_coalesce",
        "_done",
        "_failed",
        "_message_id",
        "_metadata",
        "_split",
        "_sse",
        "_unescape",
    )

    def __init__(self, max_event_bytes: int, *, coalesce: bool = False) -> None:
        self._sse = SSEDecoder(max_event_bytes)
        self._coalesce = coalesce
        self._split = TagSplitter()
        self._unescape = FragmentUnescaper()
        self._done = False
        self._failed = False
        self._message_id: str | None = None
        self._metadata: dict[str, Any] = {}

    def feed(self, chunk: bytes) -> list[ParsedEvent]:
        if self._done or self._failed:
            return []
        try:
            text = self._sse.feed_text(chunk)
            bulk = self._bulk_read(text)
            if bulk is not None:
                return bulk
            sse_events = self._sse.events_of(text)
        except APIResponseValidationError as exc:
            self._failed = True
            return [StreamFailure(exc)]
        return self._handle(sse_events)

    def _bulk_read(self, text: str) -> list[ParsedEvent] | None:
        """The fast paths: events for a read made only of plain ``data:`` text events, or only
        of ``{"content": ...}`` events, without splitting it into SSE events one by one; None
        when the read needs the general path (other SSE fields, ``[DONE]``/``[ERROR]``, other
        JSON). The events are the ones the general path would give, only cheaper."""
        payloads = plain_data_payloads(text)
        if payloads is None:
            return None
        if not _has_markers(text):
            if self._coalesce:
                return self._plain_read(payloads, text)
            return self._plain_deltas(payloads, text)
        texts = _json_texts(payloads, text)
        return None if texts is None else self._json_read(texts, text)

    def _plain_read(self, payloads: list[str], text: str) -> list[ParsedEvent]:
        """A read of plain-text events as one delta (coalescing mode)."""
        joined = "".join(payloads)
        if "\\" in text or "&" in text or self._unescape.held:
            # Decoded as one text: the unescaper holds escapes cut between events anyway.
            joined = self._unescape.feed(joined)
            if self._split.passthrough and "<" not in joined:
                return [TextDelta(joined)] if joined else []
        elif self._split.passthrough and "<" not in text:
            return [TextDelta(joined)] if joined else []
        out: list[ParsedEvent] = []
        self._text(joined, out)
        return out

    def _plain_deltas(self, payloads: list[str], text: str) -> list[ParsedEvent]:
        """A read of plain-text events, one delta per event (coalescing off), in bulk."""
        escaped = "\\" in text or "&" in text or bool(self._unescape.held)
        if escaped:
            feed = self._unescape.feed
            payloads = [feed(p) for p in payloads]
        if self._split.passthrough and not (
            _may_hold_tag(text) if escaped else "<" in text
        ):
            return [TextDelta(p) for p in payloads if p]
        out: list[ParsedEvent] = []
        for payload in payloads:
            self._text(payload, out)
        return out

    def _json_read(self, texts: list[str], text: str) -> list[ParsedEvent]:
        """A read of ``{"content": ...}`` events only, parsed in bulk."""
        if self._unescape.held:
            out: list[ParsedEvent] = []
            self._release_held(out)
            out.extend(self._json_read(texts, text))
            return out
        if self._split.passthrough and not _may_hold_tag(text):
            if self._coalesce:
                joined = "".join(texts)
                return [TextDelta(joined)] if joined else []
            return [TextDelta(t) for t in texts if t]
        out = []
        for piece in ["".join(texts)] if self._coalesce else texts:
            self._text(piece, out)
        return out

    def _handle(self, sse_events: list[ServerSentEvent]) -> list[ParsedEvent]:
        out: list[ParsedEvent] = []
        for sse in sse_events:
            data = sse.data
            if sse.event == "error":
                self._fail_with(out, _error_event(data))
                return out
            first = data[:1]
            if first == "[":
                if data.rstrip() == "[DONE]":
                    self._end(out)
                    return out
                if data[:7] == "[ERROR]":
                    self._fail_with(out, agent_error(data[7:]))
                    return out
            elif first == "{":
                parsed = payload_events(data)
                if parsed is not None:
                    for event in parsed:
                        if isinstance(event, TextDelta):
                            self._release_held(out)
                            self._text(event.text, out)
                        else:
                            self._note(event)
                            out.append(event)
                            if isinstance(event, StreamFailure):
                                self._failed = True
                                return out
                    continue
            if data:
                self._text(self._unescape.feed(data), out)
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
        self._flush(out)
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
        """Answer text (already decoded) through the tag splitter, skipped when it cannot
        matter."""
        if not text:
            return
        if self._split.passthrough and "<" not in text:
            out.append(TextDelta(text))
        else:
            out.extend(self._split.feed(text))

    def _release_held(self, out: list[ParsedEvent]) -> None:
        """Text of a plain event held back for a cut escape goes before the next JSON text."""
        if self._unescape.held:
            self._text(self._unescape.finish(), out)

    def _flush(self, out: list[ParsedEvent]) -> None:
        """Release what the unescaper and the splitter still hold (end of the answer)."""
        rest = self._unescape.finish()
        if rest:
            self._text(rest, out)
        out.extend(self._split.finish())

    def _fail_with(self, out: list[ParsedEvent], failure: StreamFailure) -> None:
        self._flush(out)
        out.append(failure)
        self._failed = True

    def _note(self, event: ParsedEvent) -> None:
        if isinstance(event, Metadata) and event.kind == "metadata":
            message_id = event.data.get("message_id")
            if isinstance(message_id, str):
                self._message_id = message_id
            self._metadata.update(event.data)

    def _end(self, out: list[ParsedEvent]) -> None:
        self._flush(out)
        self._done = True
        out.append(StreamEnd(self._message_id, "stop", self._metadata))


def _tool_activity(entry: object) -> list[ToolActivity]:
    """The activity of one ``tool_calls`` entry of a one-shot answer (a tool the server ran).

    Accepts the OpenAI form (``{"function": {"name", "arguments"}}``, arguments as a JSON
    string) and flat forms (``name``/``tool_name``, ``arguments``/``args``/``input``); a
    ``result``/``output``/``response``/``content`` field adds a ``"result"`` event.
    """
    if not isinstance(entry, Mapping):
        return []
    function = entry.get("function")
    source = function if isinstance(function, Mapping) else entry
    name = next(
        (v for v in (source.get("name"), entry.get("tool_name")) if isinstance(v, str) and v),
        "unknown",
    )
    arguments = next(
        (source[k] for k in ("arguments", "args", "input", "tool_input") if k in source), None
    )
    if isinstance(arguments, str):
        with contextlib.suppress(APIResponseValidationError):
            parsed = decode_or_text(arguments, what="a tool call's arguments")
            arguments = arguments if parsed is NOT_JSON else parsed
    raw = dict(entry)
    out = [ToolActivity("call", name, arguments=arguments, raw=raw)]
    for key in ("result", "output", "response", "tool_output", "content"):
        if key in entry and entry[key] is not None:
            out.append(ToolActivity("result", name, result=entry[key], raw=raw))
            break
    return out


def document_events(document: Mapping[str, Any]) -> list[ParsedEvent]:
    """A whole JSON answer (the one-shot shape) as stream events.

    ``tool_calls`` (tools the agent ran on the server during the turn) become
    :class:`~lyzr_stream._events.ToolActivity` events, as the chat-messages dialect reports them;
    they are never calls for the client to run (those come with ``requires_local_execution``).
    """
    out: list[ParsedEvent] = []
    if document.get("requires_local_execution"):
        try:
            out.append(tool_call_request_from_payload(document))
        except APIResponseValidationError as exc:
            return [StreamFailure(exc)]
    else:
        server_calls = document.get("tool_calls")
        if isinstance(server_calls, list):
            for entry in server_calls:
                out.extend(_tool_activity(entry))
    text = _json_text(document.get("response"))
    if text:
        split = TagSplitter()
        out.extend(split.feed(text))
        out.extend(split.finish())
    metadata: dict[str, Any] = {}
    if isinstance(document.get("metadata"), Mapping):
        metadata.update(document["metadata"])
    outputs = document.get("module_outputs")
    artifacts = outputs.get("artifact_files") if isinstance(outputs, Mapping) else None
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
    has_files: ClassVar[bool] = True
    has_sessions: ClassVar[bool] = True
    has_knowledge_bases: ClassVar[bool] = True
    has_tasks: ClassVar[bool] = True
    has_agent_events: ClassVar[bool] = True
    provider_name: ClassVar[str | None] = "lyzr"

    def stream_request(self, request: AgentRequest, credentials: Credentials) -> HttpRequest:
        headers = api_key_headers(credentials)
        return HttpRequest("POST", STREAM_PATH, headers, build_body(request))

    def chat_request(self, request: AgentRequest, credentials: Credentials) -> HttpRequest:
        headers = api_key_headers(credentials)
        return HttpRequest("POST", CHAT_PATH, headers, build_body(request))

    def stop_request(self, session_id: str, credentials: Credentials) -> HttpRequest:
        """``POST /v3/inference/session/{session_id}/stop`` (the web client's stop button)."""
        path = STOP_PATH.format(encode_path_segment(session_id, "session_id"))
        return HttpRequest("POST", path, api_key_headers(credentials), {})

    def stream_parser(
        self, content_type: str, *, max_event_bytes: int, coalesce: bool = False
    ) -> LyzrV3StreamParser | JsonBodyParser | UnexpectedContentParser | SniffingParser:
        kind = media_type(content_type)
        if kind == "application/json" or kind.endswith("+json"):
            return JsonBodyParser(document_events, max_event_bytes)
        if kind in ("text/html", "application/xhtml+xml"):
            return UnexpectedContentParser(content_type)
        parser = LyzrV3StreamParser(max_event_bytes, coalesce=coalesce)
        if kind in ("text/event-stream", ""):
            return parser
        return SniffingParser(parser, content_type)

    def parse_chat(self, body: bytes, request: AgentRequest) -> AgentResponse:
        parser = JsonBodyParser(document_events, max(len(body), 1))
        parser.feed(body)
        builder = ResponseBuilder()
        for event in parser.finish():
            if isinstance(event, StreamFailure):
                raise event.error
            builder.add(event)
        raw = decode(body, what="the response")  # finish() above already accepted it
        session_id = raw.get("session_id") if isinstance(raw, dict) else None
        response = builder.build(
            agent_id=request.agent_id,
            session_id=session_id if isinstance(session_id, str) else str(request.session_id),
            user_id=str(request.user_id),
        )
        return replace(response, raw=raw if isinstance(raw, dict) else None)
