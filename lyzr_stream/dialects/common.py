"""Parsers shared by several dialects: the content-type gate and the whole-body JSON parser."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import APIResponseValidationError, StreamInterruptedError, excerpt
from .base import ParsedEvent, StreamFailure

__all__ = ["JsonBodyParser", "UnexpectedContentParser", "media_type"]

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
        page = b"<html" in self._head.lower() or b"<!doctype" in self._head.lower()
        what = "an HTML page" if page else "an unexpected body"
        return StreamFailure(
            APIResponseValidationError(
                f"expected a stream but got {what} with content type {self._content_type!r} "
                "(check the base URL and any proxy in between)",
                body_excerpt=excerpt(self._head),
            )
        )


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
            document = json.loads(body)
        except ValueError:
            return [
                StreamFailure(
                    APIResponseValidationError(
                        "the response is not valid JSON", body_excerpt=excerpt(body)
                    )
                )
            ]
        if not isinstance(document, Mapping):
            return [
                StreamFailure(
                    APIResponseValidationError(
                        "the JSON response is not an object", body_excerpt=excerpt(body)
                    )
                )
            ]
        return self._convert(document)
