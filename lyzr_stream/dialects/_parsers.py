"""Parsers shared by dialects: the content-type gate, a whole JSON body, raw text."""

from __future__ import annotations

import codecs
import logging
from collections.abc import Callable, Mapping
from typing import Any

from .._errors import APIResponseValidationError, StreamInterruptedError, excerpt
from .._events import StreamEnd, TextDelta
from .._json import decode
from ._base import ParsedEvent, StreamFailure, StreamParser
from ._tags import TagSplitter

__all__ = [
    "JsonBodyParser",
    "RawTextParser",
    "SniffingParser",
    "UnexpectedContentParser",
    "media_type",
    "unexpected_content",
]

logger = logging.getLogger("lyzr_stream")

_EXCERPT_BYTES = 256


def media_type(content_type: str) -> str:
    """``"text/event-stream; charset=utf-8"`` -> ``"text/event-stream"``."""
    return content_type.partition(";")[0].strip().lower()


class UnexpectedContentParser:
    """For a 200 response whose content type the dialect cannot read (an HTML page, say).

    Collects a short excerpt, then fails with a typed error that names the content type.
    """

    __slots__ = ("_content_type", "_head")

    def __init__(self, content_type: str) -> None:
        self._content_type = content_type or "(none)"
        self._head = b""

    def feed(self, chunk: bytes) -> list[ParsedEvent]:
        if len(self._head) < _EXCERPT_BYTES:
            self._head += chunk[: _EXCERPT_BYTES - len(self._head)]
        if len(self._head) >= _EXCERPT_BYTES:
            return [self._failure()]
        return []

    def finish(self) -> list[ParsedEvent]:
        return [self._failure()]

    def _failure(self) -> StreamFailure:
        return unexpected_content(self._content_type, self._head)


def unexpected_content(content_type: str, head: bytes) -> StreamFailure:
    """The failure for a 200 body that is not what the dialect reads, naming its content type
    and showing its first bytes."""
    page = b"<html" in head.lower() or b"<!doctype" in head.lower()
    what = "an HTML page" if page else "an unexpected body"
    return StreamFailure(
        APIResponseValidationError(
            f"expected a stream but got {what} with content type {content_type or '(none)'!r} "
            "(check the base URL and any proxy in between)",
            body_excerpt=excerpt(head[:_EXCERPT_BYTES]),
        )
    )


class SniffingParser:
    """Wraps a stream parser for a body whose content type does not say it is a stream.

    The official clients read such a body as a stream all the same, so it is handed to the
    stream parser; but when the whole body gave no event at all (an HTML page or some text
    mislabelled), the error names the content type and shows the body instead of saying the
    stream was cut.
    """

    __slots__ = ("_content_type", "_head", "_inner", "_sniffing")

    def __init__(self, inner: StreamParser, content_type: str) -> None:
        self._inner = inner
        self._content_type = content_type
        self._head = b""
        self._sniffing = True

    def feed(self, chunk: bytes) -> list[ParsedEvent]:
        events = self._inner.feed(chunk)
        if self._sniffing:
            if len(self._head) < _EXCERPT_BYTES:
                self._head += chunk[: _EXCERPT_BYTES - len(self._head)]
            if events:
                self._sniffing = False
        return events

    def finish(self) -> list[ParsedEvent]:
        events = self._inner.finish()
        if self._sniffing and self._head.strip() and all(
            isinstance(e, StreamFailure) and isinstance(e.error, StreamInterruptedError)
            for e in events
        ):
            return [unexpected_content(self._content_type, self._head)]
        return events


class JsonBodyParser:
    """For a stream endpoint that answered with one JSON document instead of events.

    The body is collected and handed whole to ``convert`` at the end.
    """

    __slots__ = ("_chunks", "_convert", "_max_bytes", "_size")

    def __init__(
        self, convert: Callable[[Mapping[str, Any]], list[ParsedEvent]], max_bytes: int
    ) -> None:
        self._chunks: list[bytes] = []
        self._convert = convert
        self._max_bytes = max_bytes
        self._size = 0

    def feed(self, chunk: bytes) -> list[ParsedEvent]:
        self._size += len(chunk)
        if self._size > self._max_bytes:
            return [
                StreamFailure(
                    APIResponseValidationError(
                        f"the JSON response exceeded {self._max_bytes} bytes"
                    )
                )
            ]
        self._chunks.append(chunk)
        return []

    def finish(self) -> list[ParsedEvent]:
        body = b"".join(self._chunks)
        if not body.strip():
            return [StreamFailure(StreamInterruptedError("the response body was empty"))]
        try:
            document = decode(body, what="the response")
        except APIResponseValidationError as exc:
            return [StreamFailure(exc)]
        if not isinstance(document, Mapping):
            return [
                StreamFailure(
                    APIResponseValidationError(
                        "the JSON response is not an object", body_excerpt=excerpt(body)
                    )
                )
            ]
        return self._convert(document)


class RawTextParser:
    """A body of plain UTF-8 text arriving in arbitrary chunks (Lyzr v2 without SSE).

    A multi-byte character split between chunks comes out whole; a leading UTF-8 byte order
    mark is dropped. The end of the body is the end of the answer (a cut connection surfaces as
    a transport error, not here).
    """

    __slots__ = ("_decoder", "_failed", "_think")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
        self._think = TagSplitter()
        self._failed = False

    def feed(self, chunk: bytes) -> list[ParsedEvent]:
        if self._failed:
            return []
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            self._failed = True
            return [_invalid_utf8(exc, chunk)]
        if not text:
            return []
        if self._think.passthrough and "<" not in text:
            return [TextDelta(text)]
        return list(self._think.feed(text))

    def finish(self) -> list[ParsedEvent]:
        if self._failed:
            return []
        try:
            text = self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            self._failed = True
            return [_invalid_utf8(exc, b"")]
        out: list[ParsedEvent] = list(self._think.feed(text)) if text else []
        out.extend(self._think.finish())
        out.append(StreamEnd())
        return out


def _invalid_utf8(exc: UnicodeDecodeError, chunk: bytes) -> StreamFailure:
    return StreamFailure(
        APIResponseValidationError(
            f"the response is not valid UTF-8 ({exc.reason})", body_excerpt=excerpt(chunk[:80])
        )
    )
