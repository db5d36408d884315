"""Local tools, agent events, stop and assets."""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from lyzr_stream import (
    AgentEvent,
    AgentRequest,
    ChatMessage,
    LyzrError,
    TextDelta,
    ToolActivity,
    ToolCallRequest,
    ToolSpec,
)
from lyzr_stream.dialects._local_tools import is_proxy_call, tool_round_messages
from lyzr_stream.emulator import DEMO_ANSWER, Emulator

from .contract import Target
from .support import Wire, agent_of, new_client

ADD = ToolSpec(
    name="add",
    description="Add two integers a and b and return their sum.",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
)


def _add(arguments: Mapping[str, Any]) -> str:
    try:
        return str(int(arguments["a"]) + int(arguments["b"]))
    except (KeyError, TypeError, ValueError) as exc:
        return f"Error: {exc}"


@pytest.mark.live(item="local-tools", runs=2, needs=("tool",))
def test_one_local_tool_round_trip_in_the_official_shape(
    target: Target, wire: Callable[..., Wire], emulator: Emulator | None
) -> None:
    agent = agent_of(target, "tool")
    w = wire()
    session = w.client.new_session_id(agent)
    user = ChatMessage(role="user", content="Use the add tool to compute add(2, 3).")
    first = AgentRequest(agent_id=agent, session_id=session, messages=(user,), tools=(ADD,))
    with w.client.stream(first) as events:
        asked = [e for e in events if isinstance(e, ToolCallRequest)]
    assert asked, "the agent asked for no local tool"
    [request] = asked
    assert request.calls and all(c.name == "add" for c in request.calls)
    assistant = ChatMessage(role="assistant", content="", tool_calls=request.raw_calls)
    results = [
        ChatMessage(role="tool", tool_call_id=c.id, name=c.name, content=_add(c.arguments))
        for c in request.calls
    ]
    transcript = tool_round_messages([user, assistant, *results])
    second = AgentRequest(agent_id=agent, session_id=session, messages=transcript, tools=(ADD,))
    with w.client.stream(second) as events:
        seen = list(events)
    assert not any(isinstance(e, ToolCallRequest) for e in seen), "a second tool round"
    text = "".join(e.text for e in seen if isinstance(e, TextDelta))
    assert text.strip()

    # What went out is lyzr-adk's round shape (docs/wire.md, "Client-side ("local") tools").
    sent_first, sent_second = w.bodies("/v3/inference/stream/")
    assert "message" not in sent_first and "message" not in sent_second
    assert sent_first["messages"] == [{"role": "user", "content": user.content}]
    [feature] = [f for f in sent_first["features"] if f["type"] == "local_tools"]
    assert feature["config"]["tools"] == [ADD.to_wire()]
    echoed, *tool_results = sent_second["messages"][1:]
    assert echoed == {"role": "assistant", "content": "", "tool_calls": list(request.raw_calls)}
    for raw, result in zip(request.raw_calls, tool_results, strict=True):
        assert result["role"] == "tool" and result["tool_call_id"] == raw["id"]
        assert result["name"] == ("local_tool" if is_proxy_call(raw) else "add")
    if emulator is not None:  # the emulator checks the round's shape and repeats the result
        assert "5" in text


@pytest.mark.live(item="agent-events", runs=1, needs=("events",))
def test_the_agent_events_socket_delivers_events(
    target: Target, emulator: Emulator | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="lyzr_stream")
    # The emulator publishes its late events 0.2 s after the answer: a short grace will do.
    grace = 0.5 if emulator is not None else 1.0
    # A generous connect timeout: the check is whether the socket connects, not how fast.
    options = {"agent_events": True, "events_grace": grace, "events_connect_timeout": 5.0}
    with new_client(target, **options) as client:
        request = AgentRequest(
            agent_id=agent_of(target, "events"), message="Look up lyzr-stream with your tools."
        )
        with client.stream(request) as events:
            seen = list(events)
    assert any(isinstance(e, TextDelta) for e in seen)
    channel = [e for e in seen if isinstance(e, AgentEvent | ToolActivity)]
    if not channel and emulator is None:
        refused = [r.getMessage() for r in caplog.records if "agent events" in r.getMessage()]
        if refused:  # a known case: 403 for headless clients (docs/wire.md, "Agent events")
            pytest.skip(f"the events socket was refused: {refused[0]}")
    assert channel, "the socket delivered no event"


@pytest.mark.live(item="stop", runs=1, needs=("slow",))
def test_the_stop_route_accepts_a_running_session(
    target: Target, emulator: Emulator | None
) -> None:
    agent = agent_of(target, "slow")
    # stop_on_exit=False: the only stop is the one this test sends.
    with new_client(target, stop_on_exit=False) as client:
        session = client.new_session_id(agent)
        request = AgentRequest(
            agent_id=agent,
            session_id=session,
            message="Write at least 500 words on the history of streaming protocols.",
        )
        text = ""
        with client.stream(request) as events:
            for event in events:
                if isinstance(event, TextDelta) and event.text:
                    text += event.text
                    break
            client.stop_session(session)  # accepted: no error
            if emulator is not None:  # the emulator ends the answer where it is
                try:
                    for event in events:
                        if isinstance(event, TextDelta):
                            text += event.text
                except LyzrError:
                    pass  # cut off without an end marker: the run was stopped
    assert text
    if emulator is not None:
        assert emulator.stop_requests.count(session) == 1
        assert len(text) < len(DEMO_ANSWER) * 4


def _png() -> bytes:
    """A 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(
        b"IEND", b""
    )


@pytest.mark.live(item="assets", runs=1, needs=("assets",))
def test_an_uploaded_png_gives_an_id_a_request_carries(
    target: Target, wire: Callable[..., Wire], emulator: Emulator | None
) -> None:
    w = wire()
    [asset] = w.client.upload_assets(("conformance.png", _png(), "image/png"))
    assert isinstance(asset.asset_id, str) and asset.asset_id.strip()
    answer = w.client.chat(
        AgentRequest(
            agent_id=agent_of(target, "assets"),
            message="Which file did I attach? Answer in one sentence.",
            assets=(asset.asset_id,),
        )
    )
    [body] = w.bodies("/v3/inference/chat/")
    assert body["assets"] == [asset.asset_id]
    assert answer.text.strip()
    if emulator is not None:  # the agent received the file
        assert asset.asset_id in answer.text and "conformance.png" in answer.text
