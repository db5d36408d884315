"""The family of wire formats whose stream is SSE with one JSON object per event, each naming its
``type`` (AISquare, chat messages: docs/wire.md, "AISquare Studio QLLM" and "Chat messages
stream"): the shared parser and the shared dialect base, which carries only the message."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from .._errors import APIResponseValidationError, LyzrError, StreamInterruptedError, excerpt
from .._events import Metadata, StreamEnd, TextDelta
from .._json import decode
from ._base import (
    MESSAGE_ONLY_UNSUPPORTED,
    Dialect,
    ParsedEvent,
    StreamFailure,
    StreamParser,
    agent_error,
)
from ._parsers import UnexpectedContentParser, media_type
from ._sse import ServerSentEvent, SSEDecoder
from ._tags import TagSplitter

__all__ = ["JsonEventParser", "JsonEventsDialect", "first_text"]

logger = logging.getLogger("lyzr_stream")

Handler = Callable[[Mapping[str, Any]], list[ParsedEvent]]


class JsonEventParser:
    """SSE whose every ``data:`` is a JSON object with a ``type`` (AISquare, chat-messages).

    A subclass handles each event type ``t`` in a method ``event_t(obj) -> events``; text goes
    through the ``<think>`` splitter; an unknown type is kept as :class:`Metadata` (logged once
    per type) rather than failing the stream. ``end_types`` finish the stream; without one, the
    stream was cut.
    """

    end_types: frozenset[str] = frozenset({"end"})
    protocol: str = "json-events"
    _warned: set[tuple[str, str]] = set()

    def __init__(self, max_event_bytes: int) -> None:
        self._sse = SSEDecoder(max_event_bytes)
        self._think = TagSplitter()
        self.done = False
        self.failed = False
        self.message_id: str | None = None
        self.metadata: dict[str, Any] = {}

    def text(self, text: str) -> list[ParsedEvent]:
        """Answer text through the tag splitter (``<think>``/``<artifacts>`` anywhere)."""
        if not text:
            return []
        if self._think.passthrough and "<" not in text:
            return [TextDelta(text)]
        return list(self._think.feed(text))

    def end(self, finish_reason: str = "stop") -> list[ParsedEvent]:
        out: list[ParsedEvent] = list(self._think.finish())
        self.done = True
        out.append(StreamEnd(self.message_id, finish_reason, dict(self.metadata)))
        return out

    def fail(self, error: LyzrError) -> list[ParsedEvent]:
        out: list[ParsedEvent] = list(self._think.finish())
        self.failed = True
        out.append(StreamFailure(error))
        return out

    def agent_failed(self, message: str) -> list[ParsedEvent]:
        """The agent reported an error: :class:`~lyzr_stream.AgentError` with its message (the
        one rule for every dialect, :func:`~lyzr_stream.dialects._base.agent_error`)."""
        return self.fail(agent_error(message).error)

    def ended(self) -> bool:
        return self.done or self.failed

    def feed(self, chunk: bytes) -> list[ParsedEvent]:
        if self.done or self.failed:
            return []
        try:
            return self._handle(self._sse.feed(chunk))
        except APIResponseValidationError as exc:
            return self.fail(exc)

    def finish(self) -> list[ParsedEvent]:
        if self.done or self.failed:
            return []
        try:
            out = self._handle(self._sse.finish())
        except APIResponseValidationError as exc:
            return self.fail(exc)
        if self.ended():
            return out
        out.extend(
            self.fail(
                StreamInterruptedError(
                    "the stream ended without its end event: the connection was cut or the "
                    "server stopped early"
                )
            )
        )
        return out

    def _handle(self, sse_events: list[ServerSentEvent]) -> list[ParsedEvent]:
        out: list[ParsedEvent] = []
        for sse in sse_events:
            if self.done or self.failed:
                break
            if not sse.data.strip():
                continue
            try:
                obj = decode(sse.data, what=f"a {self.protocol} stream event")
            except APIResponseValidationError as exc:
                out.extend(self.fail(exc))
                break
            if not isinstance(obj, Mapping):
                out.extend(
                    self.fail(
                        APIResponseValidationError(
                            f"a {self.protocol} stream event is not a JSON object",
                            body_excerpt=excerpt(sse.data),
                        )
                    )
                )
                break
            kind = obj.get("type")
            kind = kind if isinstance(kind, str) else sse.event
            # Only methods named event_<type> are handlers: a type the service invents finds none.
            handler: Handler | None = getattr(self, "event_" + kind, None)
            if handler is not None:
                out.extend(handler(obj))
            elif kind in self.end_types:
                out.extend(self.end())
            else:
                out.append(self._unknown(kind, obj))
        return out

    def _unknown(self, kind: str, obj: Mapping[str, Any]) -> Metadata:
        key = (self.protocol, kind)
        if key not in JsonEventParser._warned:
            JsonEventParser._warned.add(key)
            logger.warning(
                "lyzr_stream: unknown %s event type %r kept as metadata", self.protocol, kind
            )
        return Metadata(kind, dict(obj))


def first_text(obj: Mapping[str, Any], *keys: str) -> str:
    """The first string value under ``keys`` (field names differ between services)."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str):
            return value
    return ""


class JsonEventsDialect(Dialect):
    """A message-only format whose stream is JSON events: a subclass names its
    :attr:`parser_class` and builds its request."""

    unsupported_fields: ClassVar[frozenset[str]] = MESSAGE_ONLY_UNSUPPORTED
    parser_class: ClassVar[type[JsonEventParser]]

    def stream_parser(
        self, content_type: str, *, max_event_bytes: int, coalesce: bool = False
    ) -> StreamParser:
        """The events of an SSE (or unlabelled) body, else a typed failure naming the content
        type."""
        if media_type(content_type) in ("text/event-stream", ""):
            return self.parser_class(max_event_bytes)
        return UnexpectedContentParser(content_type)
