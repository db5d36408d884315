"""A test-only dialect: Lyzr v3 on the wire, plus server-side tool activity around the text.

It lets the framework tests watch ToolActivity flow over a real socket before a dialect that
reports tools natively is served by the emulator.
"""

from __future__ import annotations

from typing import ClassVar

from lyzr_stream import ToolActivity, register_dialect
from lyzr_stream._events import StreamEnd
from lyzr_stream.dialects import ParsedEvent, StreamParser
from lyzr_stream.dialects._lyzr_v3 import LyzrV3Dialect

CALL = ToolActivity("call", "search", arguments={"q": "lyzr"})
RESULT = ToolActivity("result", "search", result={"hits": 2})


class _ActivityParser:
    def __init__(self, inner: StreamParser) -> None:
        self._inner = inner
        self._started = False

    def _wrap(self, events: list[ParsedEvent]) -> list[ParsedEvent]:
        out: list[ParsedEvent] = []
        if not self._started:
            self._started = True
            out.append(CALL)
        for event in events:
            if isinstance(event, StreamEnd):
                out.append(RESULT)
            out.append(event)
        return out

    def feed(self, chunk: bytes) -> list[ParsedEvent]:
        return self._wrap(self._inner.feed(chunk))

    def finish(self) -> list[ParsedEvent]:
        return self._wrap(self._inner.finish())


class ActivityDialect(LyzrV3Dialect):
    name: ClassVar[str] = "test-activity"
    has_chat_endpoint: ClassVar[bool] = False

    def stream_parser(
        self, content_type: str, *, max_event_bytes: int, coalesce: bool = False
    ) -> StreamParser:
        return _ActivityParser(super().stream_parser(content_type, max_event_bytes=max_event_bytes))


register_dialect(ActivityDialect)
