"""What the service's JSON can do to the client, over real sockets (a scripted raw-socket server):
text that only looks like JSON stays text, JSON over the limits is a typed error on every route,
and no lone surrogate reaches the caller in any kind of event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lyzr_stream import (
    AgentEvent,
    AgentRequest,
    APIResponseValidationError,
    APIStatusError,
    LyzrClient,
    Metadata,
    ReasoningDelta,
    StreamEnd,
    TextDelta,
    ToolActivity,
    ToolCallRequest,
)
from lyzr_stream._errors import AgentError, LyzrError
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.agent_events import events_url_of
from tests.helpers.hostile_agents import AGENT, DEEP_AGENT
from tests.helpers.scripted_server import Reply, ScriptedServer, sse

STREAM = "/v3/inference/stream/"
SSE_TYPE = "text/event-stream"
CHAT = "/v3/inference/chat/"
#: 200,000 levels, cut (never closed) and whole.
DEEP_OBJECT = '{"a":' * 200_000
DEEP_ARRAY = "[" * 200_000 + "]" * 200_000
DEEP_BODIES = [DEEP_OBJECT, DEEP_ARRAY, "[" * 200_000]


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


@pytest.fixture
def client(server: ScriptedServer) -> Iterator[LyzrClient]:
    with LyzrClient(api_key="k", base_url=server.url, max_retries=0) as c:
        yield c


def req(**kw: Any) -> AgentRequest:
    return AgentRequest(agent_id="a", message="hi", session_id="s-1", **kw)


def streamed(server: ScriptedServer, client: LyzrClient, body: bytes) -> list[Any]:
    server.route("POST", STREAM, Reply(200, "text/event-stream", body))
    with client.stream(req()) as stream:
        return list(stream)


def text_of(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def encodable(value: Any) -> None:
    """``value`` (an event, a result) encodes to UTF-8 wherever it is shown."""
    json.dumps(value, default=repr, ensure_ascii=False).encode()
    repr(value).encode()
    str(value).encode()


# -- item 2: invalid JSON starting with "{" is answer text --------------------------------------
def test_an_unescaped_fragment_that_looks_like_json_is_answer_text(
    server: ScriptedServer, client: LyzrClient
) -> None:
    events = streamed(server, client, sse("The result is ", '{"answer": 4', "}.", "[DONE]"))
    assert text_of(events) == 'The result is {"answer": 4}.'
    assert isinstance(events[-1], StreamEnd)
    metadata = streamed(server, client, sse("ok", '{"answer": 4}', "[DONE]"))
    assert [(e.kind, e.data) for e in metadata if isinstance(e, Metadata)] == [
        ("unknown", {"answer": 4})
    ]


# -- item 4: JSON over the limits is a typed error on every route -------------------------------
@pytest.mark.parametrize("deep", [DEEP_OBJECT, '{"content": ' + DEEP_ARRAY + "}"])
def test_a_deep_stream_event_is_a_typed_error_keeping_the_text(
    server: ScriptedServer, client: LyzrClient, deep: str
) -> None:
    server.route("POST", STREAM, Reply(200, "text/event-stream", sse("Hello", " world", deep)))
    received = []
    with pytest.raises(APIResponseValidationError, match="deeper than 128") as info:
        with client.stream(req()) as stream:
            received.extend(e.text for e in stream if isinstance(e, TextDelta))
    assert info.value.partial_text == "".join(received) == "Hello world"


def test_a_deep_error_event_is_a_typed_error_keeping_the_text(
    server: ScriptedServer, client: LyzrClient
) -> None:
    body = sse("Hello") + b"event: error\ndata: " + DEEP_OBJECT.encode() + b"\n\n"
    server.route("POST", STREAM, Reply(200, "text/event-stream", body))
    with pytest.raises(APIResponseValidationError, match="deeper") as info:
        with client.stream(req()) as stream:
            list(stream)
    assert info.value.partial_text == "Hello"


@pytest.mark.parametrize("deep", DEEP_BODIES)
async def test_deep_one_shot_bodies_are_typed_errors_sync_and_async(
    server: ScriptedServer, client: LyzrClient, deep: str
) -> None:
    server.route("POST", CHAT, Reply(200, "application/json", deep.encode()))
    with pytest.raises(APIResponseValidationError, match="deeper"):
        client.chat(req())
    with pytest.raises(APIResponseValidationError, match="deeper"):
        await client.achat(req())
    # A whole JSON document on the stream route (read as one answer) too.
    server.route("POST", STREAM, Reply(200, "application/json", deep.encode()))
    with pytest.raises(APIResponseValidationError, match="deeper"):
        with client.stream(req()) as stream:
            list(stream)


@pytest.mark.parametrize("route", [CHAT, STREAM])
def test_a_deep_error_body_keeps_its_status_error(
    server: ScriptedServer, client: LyzrClient, route: str
) -> None:
    # The status says what happened (and whether to retry): a body too deep to read is kept as
    # text, excerpted, never a RecursionError.
    server.route("POST", route, Reply(500, "application/json", DEEP_OBJECT.encode()))
    with pytest.raises(APIStatusError) as info:
        if route == CHAT:
            client.chat(req())
        else:
            with client.stream(req()) as stream:
                list(stream)
    assert info.value.status_code == 500
    assert len(str(info.value)) < 2000


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/v1/sessions/s-1/history", lambda c: c.session_history("s-1")),
    ("GET", "/v1/agent/a/sessions", lambda c: c.list_sessions("a")),
    ("POST", "/v1/sessions/a", lambda c: c.create_session("a")),
    ("POST", "/v3/assets/upload", lambda c: c.upload_assets(("a.pdf", b"%PDF-1.4 x"))),
]
AROUTES: dict[str, Any] = {
    "/v1/sessions/s-1/history": lambda c: c.asession_history("s-1"),
    "/v1/agent/a/sessions": lambda c: c.alist_sessions("a"),
    "/v1/sessions/a": lambda c: c.acreate_session("a"),
    "/v3/assets/upload": lambda c: c.aupload_assets(("a.pdf", b"%PDF-1.4 x")),
}


@pytest.mark.parametrize("deep", DEEP_BODIES)
@pytest.mark.parametrize(("method", "path", "call"), ROUTES)
async def test_deep_route_answers_are_typed_errors(
    server: ScriptedServer, client: LyzrClient, method: str, path: str, call: Any, deep: str
) -> None:
    server.route(method, path, Reply(200, "application/json", deep.encode()))
    with pytest.raises(APIResponseValidationError, match="deeper than 128"):
        call(client)
    with pytest.raises(APIResponseValidationError, match="deeper than 128"):
        await AROUTES[path](client)


# -- item 5: no lone surrogate leaves the core ---------------------------------------------------
LONE = "\ufffd"  # what a lone surrogate becomes


def test_no_lone_surrogate_in_any_stream_event(server: ScriptedServer, client: LyzrClient) -> None:
    body = sse(
        r"<think>why \ud83d</think>",  # reasoning, v3 text escapes
        r"text \uD83D",  # the v3 unescaper, a high half cut at the end of an event
        " and ",
        r'{"content": "json \ud83d"}',  # a JSON text event
        r'{"type": "progress", "note": "cut \udc00", "\ud83dkey": ["\ud83d"]}',  # metadata
        r'{"content": "", "metadata": {"m": "\udbff"}}',
        "[DONE]",
    )
    events = streamed(server, client, body)
    encodable(events)
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == f"why {LONE}"
    assert text_of(events) == f"text {LONE} and json {LONE}"
    meta = [e.data for e in events if isinstance(e, Metadata)]
    assert {"type": "progress", "note": f"cut {LONE}", f"{LONE}key": [LONE]} in meta
    assert events[-1].metadata == {"m": LONE}


def test_no_lone_surrogate_in_a_tool_call_request(
    server: ScriptedServer, client: LyzrClient
) -> None:
    call = (
        r'{"type": "local_tool_call", "tool_name": "get\ud83d", "arguments": {"q\udc00": '
        r'"a\ud83d"}, "messages": []}'
    )
    events = streamed(server, client, sse(call, "[DONE]"))
    encodable(events)
    request = next(e for e in events if isinstance(e, ToolCallRequest))
    assert [(c.name, dict(c.arguments)) for c in request.calls] == [
        (f"get{LONE}", {f"q{LONE}": f"a{LONE}"})
    ]


def test_no_lone_surrogate_in_server_tool_activity_or_one_shot_text(
    server: ScriptedServer, client: LyzrClient
) -> None:
    document = (
        r'{"response": "answer \ud83d", "tool_calls": [{"function": {"name": "web\ud83d", '
        r'"arguments": "{\"q\": \"\\ud83d\"}"}, "result": "r\udc00"}]}'
    )
    server.route("POST", CHAT, Reply(200, "application/json", document.encode()))
    response = client.chat(req())
    encodable(response.text)
    encodable([(a.name, a.arguments, a.result) for a in response.tool_activity])
    assert response.text == f"answer {LONE}"
    assert [(a.phase, a.name, a.arguments, a.result) for a in response.tool_activity] == [
        ("call", f"web{LONE}", {"q": LONE}, None),
        ("result", f"web{LONE}", None, f"r{LONE}"),
    ]


def test_no_lone_surrogate_in_chat_messages_tool_activity(server: ScriptedServer) -> None:
    body = sse(
        r'{"type": "start", "messageId": "m"}',
        r'{"type": "tool_call", "toolName": "t\ud83d", "toolArgs": {"a": "\udc00"}}',
        r'{"type": "tool_result", "toolName": "t\ud83d", "result": "r\ud83d"}',
        r'{"type": "content", "delta": "hi \ud83d"}',
        r'{"type": "end", "messageId": "m"}',
    )
    server.route("POST", "/api/chats/", Reply(200, "text/event-stream", body))
    with LyzrClient(
        api_key="k", base_url=server.url, dialect="chat-messages", max_retries=0
    ) as client:
        request = AgentRequest(
            agent_id="model", message="hi", session_id="3f2b8a9e-0000-4000-8000-000000000000"
        )
        with client.stream(request) as stream:
            events = list(stream)
    encodable(events)
    assert text_of(events) == f"hi {LONE}"
    activity = [
        (e.phase, e.name, e.arguments, e.result) for e in events if isinstance(e, ToolActivity)
    ]
    assert activity == [
        ("call", f"t{LONE}", {"a": LONE}, None),
        ("result", f"t{LONE}", None, f"r{LONE}"),
    ]


async def test_no_lone_surrogate_in_session_history_or_lists(
    server: ScriptedServer, client: LyzrClient
) -> None:
    history = (
        r'[{"role": "user", "content": "hi \ud83d"}, {"role": "assistant", "content": "\udc00"}]'
    )
    server.route("GET", "/v1/sessions/s-1/", Reply(200, "application/json", history.encode()))
    for messages in (client.session_history("s-1"), await client.asession_history("s-1")):
        encodable([(m.role, m.content, dict(m.raw)) for m in messages])
        assert [m.content for m in messages] == [f"hi {LONE}", LONE]
    sessions = (
        r'[{"session_id": "s\ud83d", "session_name": "n\udc00", "metadata": {"t": "\ud83d"}}]'
    )
    server.route("GET", "/v1/agent/a/sessions", Reply(200, "application/json", sessions.encode()))
    (info,) = client.list_sessions("a")
    encodable((info.session_id, info.name, dict(info.metadata)))
    assert (info.session_id, info.name) == (f"s{LONE}", f"n{LONE}")


@pytest.mark.parametrize(
    ("body", "content_type", "route"),
    [
        (rb'{"detail": "quota \ud83d"}', "application/json", CHAT),
        (rb'{"detail": "quota \ud83d"}', "application/json", STREAM),
        (sse("part ") + rb'data: {"error": "failed \ud83d"}' + b"\n\n", SSE_TYPE, STREAM),
        (sse("part ") + b"event: error\n" + rb'data: {"message": "x \udc00"}' + b"\n\n", SSE_TYPE,
         STREAM),
    ],
)
def test_no_lone_surrogate_in_error_messages(
    server: ScriptedServer, client: LyzrClient, body: bytes, content_type: str, route: str
) -> None:
    status = 200 if content_type == SSE_TYPE else 429
    server.route("POST", route, Reply(status, content_type, body))
    with pytest.raises(LyzrError) as info:
        if route == CHAT:
            client.chat(req())
        else:
            with client.stream(req()) as stream:
                list(stream)
    error = info.value
    assert isinstance(error, (AgentError, APIStatusError))
    encodable(error.args)
    assert LONE in str(error)
    if isinstance(error, APIStatusError):
        encodable(error.body)


# -- the agent events channel (the emulator's WebSocket) -----------------------------------------
def _events_client(em: Emulator) -> LyzrClient:
    return LyzrClient(
        api_key=em.api_key,
        base_url=em.base_url,
        agent_events=True,
        events_url=events_url_of(em.base_url),
        events_grace=0.5,
    )


def test_deep_agent_events_are_dropped_and_the_answer_is_whole(
    lyzr_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="lyzr_stream")
    with _events_client(lyzr_emulator) as client, client.stream(
        AgentRequest(agent_id=DEEP_AGENT, message="hi")
    ) as stream:
        events = list(stream)
    assert text_of(events) == "the answer is whole"
    channel = [(e.type, e.message) for e in events if isinstance(e, AgentEvent)]
    assert channel == [("process_start", "before"), ("process_end", "after")]
    dropped = [r for r in caplog.records if "an agent event was dropped" in r.getMessage()]
    assert len(dropped) == 3 and all("deeper than 128" in r.getMessage() for r in dropped)


async def test_no_lone_surrogate_in_agent_events(lyzr_emulator: Emulator) -> None:
    client = _events_client(lyzr_emulator)
    try:
        async with client.astream(AgentRequest(agent_id=AGENT, message="hi")) as stream:
            events = [e async for e in stream]
    finally:
        await client.aclose()
    encodable(events)
    activity = [
        (e.phase, e.name, e.arguments, e.result) for e in events if isinstance(e, ToolActivity)
    ]
    assert activity == [
        ("call", f"web{LONE}", {"query": f"cut {LONE}"}, None),
        ("result", f"web{LONE}", None, {"hits": LONE}),
    ]
    (event,) = [e for e in events if isinstance(e, AgentEvent)]
    assert (event.status, event.message, event.raw["data"]) == (
        f"done{LONE}", f"found {LONE}", {f"doc{LONE}": "x"}
    )
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == f"hmm {LONE}\nwhy {LONE}"
