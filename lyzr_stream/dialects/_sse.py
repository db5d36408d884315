"""A Server-Sent Events decoder that knows nothing of sockets (WHATWG spec).

Bytes go in with :meth:`SSEDecoder.feed`, complete events come out; :meth:`SSEDecoder.finish`
flushes at end of body. Byte chunks may split anywhere: inside a line, inside a ``\\r\\n`` pair,
inside a UTF-8 character. A UTF-8 byte order mark at the start of the stream is dropped.

It works on whole buffers, not line by line: the bytes up to the last event boundary are decoded
to text once per :meth:`feed`, and an event made of a single ``data:`` line (almost every event
in practice) is taken with one slice. Only unusual events go through the general field parser.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import APIResponseValidationError, excerpt

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEDecoder", "ServerSentEvent", "plain_data_payloads"]

DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event. ``event`` is ``"message"`` unless an ``event:`` field named it."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


def plain_data_payloads(text: str) -> list[str] | None:
    """The payloads of text from :meth:`SSEDecoder.feed_text` when every event in it is one
    plain ``data: ...`` line (what agent services send), split in bulk; otherwise None.

    Such events carry no ``id``/``event``/``retry`` field, so the decoder state is unaffected.
    """
    if not text.startswith("data: "):
        return None
    payloads = text[6:].split("\n\ndata: ")
    if text.count("\n") != 2 * (len(payloads) - 1):
        return None  # a multi-line event, a comment, another field, or extra blank lines
    return payloads


class SSEDecoder:
    """Incremental SSE decoder.

    ``max_event_bytes`` caps the size of a single event still being received; a larger one raises
    :class:`~lyzr_stream._errors.APIResponseValidationError` rather than growing memory without
    bound. An event left unterminated at end of body is dispatched by :meth:`finish` (servers
    often close right after the last ``data:`` line; losing it would lose text).
    """

    __slots__ = (
        "_at_start",
        "_buf",
        "_pending",
        "_skip_lf",
        "last_event_id",
        "max_event_bytes",
        "retry",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._buf = bytearray()
        self._at_start = True
        self._skip_lf = False
        self._pending: APIResponseValidationError | None = None
        self.max_event_bytes = max_event_bytes
        self.last_event_id: str | None = None
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        return self.events_of(self.feed_text(chunk))

    def feed_text(self, chunk: bytes) -> str:
        """Take a chunk; return the text of the events it completed (blocks joined by a blank
        line, without the last one), decoded once. Turn it into events with :meth:`events_of`,
        or, in bulk, with :func:`plain_data_payloads`."""
        if self._pending is not None:
            raise self._pending
        if self._at_start:
            chunk = self._strip_bom(chunk)
            if not chunk:
                return ""
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            # A chunk ending in CR may be the first half of CRLF: the next LF is then dropped.
            self._skip_lf = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf = self._buf
        if not buf and chunk.endswith(b"\n\n") and len(chunk) <= self.max_event_bytes:
            # The usual read: whole events only, nothing pending. No buffer round trip.
            return self._decode(chunk[:-2])
        scan_from = max(0, len(buf) - 1)
        buf += chunk
        end = buf.rfind(b"\n\n", scan_from)
        if end < 0:
            if len(buf) > self.max_event_bytes:
                self._raise_oversize()
            return ""
        complete = bytes(buf[:end])
        del buf[: end + 2]
        if len(buf) > self.max_event_bytes:
            self._raise_oversize()
        if len(complete) > self.max_event_bytes:
            complete = self._cap(complete)
        return self._decode(complete)

    def _strip_bom(self, chunk: bytes) -> bytes:
        """The stream's first bytes without a UTF-8 byte order mark (the spec drops one; a
        decoder that kept it would read the first field name as ``"\\ufeffdata"`` and lose the
        first event). A chunk that may still be the start of a BOM is kept until decided."""
        head = bytes(self._buf) + chunk
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._buf[:] = head
            return b""
        self._buf.clear()
        self._at_start = False
        return head[len(_BOM) :] if head.startswith(_BOM) else head

    def _cap(self, complete: bytes) -> bytes:
        """The blocks before the first oversized one; the error is raised by the next call, so
        the caller keeps what came before it."""
        blocks = complete.split(b"\n\n")
        for index, block in enumerate(blocks):
            if len(block) > self.max_event_bytes:
                self._buf.clear()
                self._pending = self._oversize_error(len(block), block[:80])
                return b"\n\n".join(blocks[:index])
        return complete

    def finish(self) -> list[ServerSentEvent]:
        """Dispatch what is left at end of body (an event without its final blank line)."""
        if self._pending is not None:
            raise self._pending
        rest = bytes(self._buf)
        self._buf.clear()
        return self.events_of(self._decode(rest.rstrip(b"\n"))) if rest.strip() else []

    def _raise_oversize(self) -> None:
        size = len(self._buf)
        head = bytes(self._buf[:80])
        self._buf.clear()
        raise self._oversize_error(size, head)

    def _oversize_error(self, size: int, head: bytes) -> APIResponseValidationError:
        return APIResponseValidationError(
            f"a single stream event exceeded {self.max_event_bytes} bytes ({size} bytes in one "
            "event); raise max_event_bytes if this is expected",
            body_excerpt=excerpt(head, 80),
        )

    @staticmethod
    def _decode(complete: bytes) -> str:
        try:
            return complete.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise APIResponseValidationError(
                f"the stream is not valid UTF-8 (byte {exc.start} of a block: {exc.reason})",
                body_excerpt=excerpt(complete[max(0, exc.start - 40) : exc.start + 40]),
            ) from None

    def events_of(self, text: str) -> list[ServerSentEvent]:
        """The events in text from :meth:`feed_text`."""
        if not text:
            return []
        events: list[ServerSentEvent] = []
        append = events.append
        last_id, retry = self.last_event_id, self.retry
        for block in text.split("\n\n"):
            if block[:6] == "data: " and "\n" not in block:
                append(ServerSentEvent(block[6:], "message", last_id, retry))
            elif block:
                event = self._parse_block(block)
                last_id, retry = self.last_event_id, self.retry
                if event is not None:
                    append(event)
        return events

    def _parse_block(self, block: str) -> ServerSentEvent | None:
        data: list[str] = []
        event_type = "message"
        event_id = self.last_event_id
        for line in block.split("\n"):
            if not line or line[0] == ":":
                continue
            name, colon, value = line.partition(":")
            if colon and value[:1] == " ":
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                event_type = value or "message"
            elif name == "id":
                if "\0" not in value:
                    event_id = value
            elif name == "retry" and value.isdigit():
                self.retry = int(value)
            # Any other field name is ignored, as the spec says.
        self.last_event_id = event_id
        if not data:
            return None
        return ServerSentEvent("\n".join(data), event_type, event_id, self.retry)
