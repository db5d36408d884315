"""OpenTelemetry spans and metrics (GenAI conventions), read back from the SDK's in-memory
exporters, for every dialect and every surface (core sync/async, ChatLyzr, LyzrLLM)."""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncGenerator, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import pytest

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import (
    AgentError,
    AgentRequest,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    LyzrClient,
    NotFoundError,
    RateLimitError,
    StreamEnd,
    StreamInterruptedError,
    TextDelta,
)
from lyzr_stream import _telemetry as telemetry
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.agents import AGENTS, AgentCall, Answer
from tests.conftest import FAKE_KEY
from tests.helpers.clients import make_client
from tests.helpers.dialects import SETUPS, setup

otel_sdk = pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")

from opentelemetry import metrics, trace  # noqa: E402
from opentelemetry.metrics import _internal as metrics_internal  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import (  # noqa: E402
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.util._once import Once  # noqa: E402


@dataclass
class Recorded:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        found = list(self.exporter.get_finished_spans())
        return [s for s in found if name is None or s.name == name]

    def invocation(self) -> ReadableSpan:
        spans = self.spans("invoke_agent")
        assert len(spans) == 1, [s.name for s in self.spans()]
        return spans[0]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        out: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for found in scope.metrics:
                    if found.name == metric:
                        out.extend(found.data.data_points)
        return out


def _set_globals(tracer_provider: Any, meter_provider: Any) -> None:
    # The API allows setting a global provider once per process; tests reset it between tests
    # the way OpenTelemetry's own test utilities do.
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    if tracer_provider is not None:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)


@pytest.fixture
def otel() -> Iterator[Recorded]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    _set_globals(tracer_provider, MeterProvider(metric_readers=[reader]))
    try:
        yield Recorded(exporter, reader, tracer_provider)
    finally:
        _set_globals(None, None)


def _request(agent: str = "echo", **kwargs: Any) -> AgentRequest:
    return AgentRequest(agent_id=agent, message=kwargs.pop("message", "hello"), **kwargs)


def _check_invocation(span: ReadableSpan, em: Emulator, *, session: str, provider: str) -> None:
    attrs = span.attributes or {}
    assert span.kind == trace.SpanKind.CLIENT
    assert attrs["gen_ai.operation.name"] == "invoke_agent"
    assert attrs["gen_ai.provider.name"] == provider
    assert attrs["gen_ai.conversation.id"] == session
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == em.port
    assert "error.type" not in attrs
    assert span.status.status_code != trace.StatusCode.ERROR


# -- streams and one-shot calls, sync and async ---------------------------------------------------
def test_stream_span_and_streaming_metrics(otel: Recorded, lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, coalesce=False) as client:
        stream = client.stream(_request("long-5", session_id="otel-s1"))
        events = list(stream)
    span = otel.invocation()
    _check_invocation(span, lyzr_emulator, session="otel-s1", provider="lyzr")
    attrs = span.attributes or {}
    assert attrs["gen_ai.agent.id"] == "long-5"
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["lyzr.output_chunks"] == sum(isinstance(e, TextDelta) for e in events) == 5
    assert attrs["lyzr.time_to_first_chunk"] > 0
    assert "lyzr.early_exit" not in attrs
    assert len(otel.points("gen_ai.client.operation.time_to_first_chunk")) == 1
    per_chunk = otel.points("gen_ai.client.operation.time_per_output_chunk")
    assert per_chunk and per_chunk[0].count == 4  # every chunk after the first
    duration = otel.points("gen_ai.client.operation.duration")
    assert duration[0].attributes["gen_ai.operation.name"] == "invoke_agent"


async def test_async_stream_span(otel: Recorded, lyzr_emulator: Emulator) -> None:
    async with make_client(lyzr_emulator) as client:
        text = (await client.astream(_request(session_id="otel-a1")).until_done()).text
    assert text == "You said: hello"
    _check_invocation(otel.invocation(), lyzr_emulator, session="otel-a1", provider="lyzr")


def test_json_form_carries_the_message_id(otel: Recorded, lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-format": "json"}
    with make_client(lyzr_emulator, default_headers=headers) as client:
        response = client.stream(_request(session_id="otel-j1")).until_done()
    assert response.message_id
    assert (otel.invocation().attributes or {})["gen_ai.response.id"] == response.message_id


def test_one_shot_span_has_no_streaming_metrics(otel: Recorded, lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator) as client:
        response = client.chat(_request(session_id="otel-c1"))
    span = otel.invocation()
    _check_invocation(span, lyzr_emulator, session="otel-c1", provider="lyzr")
    assert (span.attributes or {})["gen_ai.response.id"] == response.message_id
    assert len(otel.points("gen_ai.client.operation.duration")) == 1
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []


async def test_async_one_shot_span(otel: Recorded, lyzr_emulator: Emulator) -> None:
    async with make_client(lyzr_emulator) as client:
        await client.achat(_request(session_id="otel-c2"))
    _check_invocation(otel.invocation(), lyzr_emulator, session="otel-c2", provider="lyzr")


# -- failures and early exit ----------------------------------------------------------------------
def test_a_500_sets_error_type_and_records_each_retry(
    otel: Recorded, lyzr_emulator: Emulator
) -> None:
    headers = {"x-emulator-fault": "status:500"}
    # A 500 of an agent run is retried only with retry_unsafe (the agent may have run).
    unsafe = {"max_retries": 1, "retry_unsafe": True}
    with make_client(lyzr_emulator, default_headers=headers, **unsafe) as client:
        with pytest.raises(InternalServerError):
            client.chat(_request(session_id="otel-f1"))
    span = otel.invocation()
    assert (span.attributes or {})["error.type"] == "AgentFailedError"
    assert span.status.status_code == trace.StatusCode.ERROR
    retries = [e for e in span.events if e.name == "lyzr.retry"]
    assert len(retries) == 1 and (retries[0].attributes or {})["lyzr.attempt"] == 1
    duration = otel.points("gen_ai.client.operation.duration")
    assert duration[0].attributes["error.type"] == "AgentFailedError"


def test_a_stream_cut_midway_records_the_partial_text(
    otel: Recorded, lyzr_emulator: Emulator
) -> None:
    headers = {"x-emulator-fault": "drop-after:3"}
    with make_client(lyzr_emulator, default_headers=headers, max_retries=0) as client:
        with pytest.raises(StreamInterruptedError) as caught:
            list(client.stream(_request("long-20", session_id="otel-f2")))
    attrs = otel.invocation().attributes or {}
    assert attrs["error.type"] == "StreamInterruptedError"
    assert caught.value.partial_text
    assert attrs["lyzr.partial_text.length"] == len(caught.value.partial_text)


def test_early_exit_is_marked(otel: Recorded, lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, coalesce=False) as client:
        with client.stream(_request("long-50", session_id="otel-e1")) as stream:
            first = next(iter(stream))
    assert isinstance(first, TextDelta)
    attrs = otel.invocation().attributes or {}
    assert attrs["lyzr.early_exit"] is True
    assert attrs["lyzr.partial_text.length"] == len(first.text)
    assert "error.type" not in attrs


# -- the wrappers' one rule, sync and async, around a scripted answer (no I/O) --------------------
class _Scripted:
    """What the wrappers read of a stream, and an answer that notes what happened to it."""

    def __init__(self, events: list[Any], fail: BaseException | None = None) -> None:
        self.settings = LyzrClient(api_key="k", base_url="http://127.0.0.1:9").settings
        self.request = _request(session_id="scripted")
        self.events, self.fail = events, fail
        self.current: list[int] = []  # the current span's id at each fetch
        self.closed = False

    def _note(self) -> None:
        self.current.append(trace.get_current_span().get_span_context().span_id)

    def inner(self) -> Generator[Any, None, None]:
        try:
            for event in self.events:
                self._note()
                yield event
            self._note()
            if self.fail is not None:
                raise self.fail
        finally:
            self.closed = True

    async def ainner(self) -> AsyncGenerator[Any, None]:
        with closing(self.inner()) as inner:
            for event in inner:
                yield event


def _run(mode: str, answer: _Scripted, take: int | None) -> list[Any]:
    """Read ``take`` events through the wrapper (all of them with None), then close it."""
    assert telemetry._instruments() is not None
    got: list[Any] = []
    if mode == "sync":
        wrapped = telemetry.traced_events(answer.inner(), answer.settings, answer.request)
        try:
            for event in wrapped:
                got.append(event)
                if len(got) == take:
                    break
        finally:
            wrapped.close()
        return got

    async def consume() -> None:
        awrapped = telemetry.traced_async_events(answer.ainner(), answer.settings, answer.request)
        try:
            async for event in awrapped:
                got.append(event)
                if len(got) == take:
                    break
        finally:
            await awrapped.aclose()

    asyncio.run(consume())
    return got


MODES = ["sync", "async"]


@pytest.mark.parametrize("mode", MODES)
def test_the_wrapper_ends_the_span_once_by_how_the_stream_ended(otel: Recorded, mode: str) -> None:
    whole = _Scripted([TextDelta("ab"), TextDelta("c"), StreamEnd("m1", "stop")])
    assert len(_run(mode, whole, None)) == 3 and whole.closed
    attrs = otel.invocation().attributes or {}
    assert (attrs["lyzr.output_chunks"], attrs["gen_ai.response.id"]) == (2, "m1")
    assert "lyzr.early_exit" not in attrs and "error.type" not in attrs
    # The invocation is current while the first event is fetched (the request, its retries),
    # not while the caller holds an event.
    invocation = otel.invocation().context.span_id
    assert whole.current[0] == invocation and invocation not in whole.current[1:]

    otel.exporter.clear()
    left = _Scripted([TextDelta("ab"), TextDelta("c")])
    assert _run(mode, left, 1) == [TextDelta("ab")] and left.closed
    attrs = otel.invocation().attributes or {}
    assert (attrs["lyzr.early_exit"], attrs["lyzr.partial_text.length"]) == (True, 2)

    otel.exporter.clear()
    failing = _Scripted([TextDelta("ab")], fail=StreamInterruptedError("cut", partial_text="ab"))
    with pytest.raises(StreamInterruptedError):
        _run(mode, failing, None)
    attrs = otel.invocation().attributes or {}
    assert (attrs["error.type"], attrs["lyzr.partial_text.length"]) == ("StreamInterruptedError", 2)

    otel.exporter.clear()
    empty = _Scripted([])
    assert _run(mode, empty, None) == [] and empty.closed
    attrs = otel.invocation().attributes or {}
    assert attrs["lyzr.output_chunks"] == 0 and "lyzr.time_to_first_chunk" not in attrs
    assert len(otel.spans("invoke_agent")) == 1


# -- server-side tools, nesting, content capture --------------------------------------------------
def test_server_side_tools_become_execute_tool_child_spans(
    otel: Recorded, lyzr_emulator: Emulator
) -> None:
    dialect, kwargs = setup("chat-messages", "tools")
    client = LyzrClient(
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
        dialect=dialect,
        default_headers=kwargs["default_headers"],
    )
    with client:
        request = AgentRequest(
            agent_id=kwargs["agent_id"], message="weather?", session_id=kwargs["session_id"]
        )
        client.stream(request).until_done()
    parent = otel.invocation()
    assert (parent.attributes or {})["gen_ai.provider.name"] == "chat-messages"
    tools = [s for s in otel.spans() if s.name.startswith("execute_tool ")]
    assert tools, [s.name for s in otel.spans()]
    for span in tools:
        assert span.parent is not None and span.parent.span_id == parent.context.span_id
        attrs = span.attributes or {}
        assert attrs["gen_ai.operation.name"] == "execute_tool"
        assert span.name == f"execute_tool {attrs['gen_ai.tool.name']}"


def test_the_span_nests_under_the_current_context(otel: Recorded, lyzr_emulator: Emulator) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    model = ChatLyzr(
        agent_id="echo", api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url
    )
    with tracer.start_as_current_span("framework llm span") as outer:
        model.invoke("hi")
    span = otel.invocation()
    assert span.parent is not None
    assert span.parent.span_id == outer.get_span_context().span_id


def test_content_is_recorded_only_on_opt_in(
    otel: Recorded, lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with make_client(lyzr_emulator) as client:
        client.stream(_request(message="secret question")).until_done()
        attrs = otel.invocation().attributes or {}
        assert "gen_ai.input.messages" not in attrs and "gen_ai.output.messages" not in attrs
        otel.exporter.clear()
        monkeypatch.setenv(telemetry.CAPTURE_CONTENT_ENV, "true")
        client.stream(_request(message="open question")).until_done()
    attrs = otel.invocation().attributes or {}
    sent = json.loads(str(attrs["gen_ai.input.messages"]))
    assert sent[-1]["parts"][0]["content"] == "open question"
    answer = json.loads(str(attrs["gen_ai.output.messages"]))
    assert answer[0]["parts"][0]["content"] == "You said: open question"


# -- every dialect, every framework surface -------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in SETUPS if not n.endswith("-sse")])
def test_every_dialect_is_traced(otel: Recorded, lyzr_emulator: Emulator, name: str) -> None:
    dialect, kwargs = setup(name, "echo")
    with LyzrClient(
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
        dialect=dialect,
        default_headers=kwargs["default_headers"],
    ) as client:
        request = AgentRequest(
            agent_id=kwargs["agent_id"], message="hi", session_id=kwargs.get("session_id")
        )
        client.stream(request).until_done()
    attrs = otel.invocation().attributes or {}
    assert attrs["gen_ai.provider.name"] == ("lyzr" if dialect == "lyzr-v2" else dialect)
    assert attrs["gen_ai.agent.id"] == kwargs["agent_id"]


def test_chat_lyzr_surfaces(otel: Recorded, lyzr_emulator: Emulator) -> None:
    model = ChatLyzr(
        agent_id="echo", api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url
    )
    model.invoke("a")
    list(model.stream("b"))
    spans = otel.spans("invoke_agent")
    assert len(spans) == 2
    assert [("lyzr.output_chunks" in (s.attributes or {})) for s in spans] == [False, True]


async def test_lyzr_llm_surfaces(otel: Recorded, lyzr_emulator: Emulator) -> None:
    llm = LyzrLLM(agent_id="echo", api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url)
    await llm.acomplete("a")
    async for _ in await llm.astream_complete("b"):
        pass
    assert len(otel.spans("invoke_agent")) == 2


# -- zero cost when off ---------------------------------------------------------------------------
def test_nothing_is_recorded_without_a_provider(lyzr_emulator: Emulator) -> None:
    _set_globals(None, None)
    assert telemetry._instruments() is None
    with make_client(lyzr_emulator) as client:
        stream = client.stream(_request())
        assert iter(stream).__name__ == "http_events"  # the HTTP source itself: not wrapped
        stream.until_done()


def test_without_opentelemetry_installed_calls_work() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'opentelemetry' or name.startswith('opentelemetry.'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from lyzr_stream import AgentRequest, LyzrClient, _telemetry as telemetry\n"
        "from lyzr_stream.emulator import Emulator\n"
        "with Emulator() as em, LyzrClient(api_key=em.api_key, base_url=em.base_url) as c:\n"
        "    print(c.stream(AgentRequest(agent_id='echo', message='x')).until_done().text)\n"
        "    print(c.chat(AgentRequest(agent_id='echo', message='y')).text)\n"
        "print(telemetry._api)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["You said: x", "You said: y", "False"]


# -- what a span may say: no prompt, no answer, no secret -----------------------------------------
PROMPT = "my card is 4111-1111-1111-1111, what is my balance?"
HEADER_SECRET = "proxy-credential-0123456789"


class _EchoingService(http.server.BaseHTTPRequestHandler):
    """A service that refuses every request with a detail quoting the prompt and the key."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        status = 429 if body.get("agent_id") == "limited" else 400
        detail = f"cannot answer {body.get('message')!r} for key {self.headers['x-api-key']}"
        payload = json.dumps({"detail": detail}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def echoing_service() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoingService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def leaky_agent(monkeypatch: pytest.MonkeyPatch) -> str:
    """An emulator agent that answers a little, then fails quoting the prompt and its answer."""

    def leaky(call: AgentCall) -> Answer:
        return Answer(
            ("Your balance", " is 1,234.56"), error=f"lost {call.message!r} after 1,234.56"
        )

    monkeypatch.setitem(AGENTS, "otel-leaky", leaky)
    return "otel-leaky"


def _strings(span: ReadableSpan) -> list[str]:
    """Every string a span carries: name, attributes, events, status."""
    out = [span.name, span.status.description or ""]
    values = [*(span.attributes or {}).values()]
    for event in span.events:
        out.append(event.name)
        values.extend((event.attributes or {}).values())
    for value in values:
        out.extend(str(v) for v in (value if isinstance(value, tuple) else (value,)))
    return out


def _assert_says_nothing_of(spans: list[ReadableSpan], *needles: str) -> None:
    assert spans
    for span in spans:
        for text in _strings(span):
            for needle in needles:
                assert needle not in text, f"{needle!r} in {span.name}: {text!r}"


@pytest.mark.parametrize(
    ("agent", "description"),
    [("refused", "BadRequestError (HTTP 400)"), ("limited", "RateLimitError (HTTP 429)")],
)
def test_a_status_error_describes_type_and_status_only(
    otel: Recorded, echoing_service: str, agent: str, description: str
) -> None:
    client = LyzrClient(api_key=FAKE_KEY, base_url=echoing_service, max_retries=0)
    with client, pytest.raises(APIStatusError) as caught:
        client.chat(_request(agent, message=PROMPT))
    assert "4111" in str(caught.value)  # the service did echo the prompt
    span = otel.invocation()
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.status.description == description
    _assert_says_nothing_of(otel.spans(), "4111", FAKE_KEY)


def test_an_agent_error_describes_its_type_only(
    otel: Recorded, lyzr_emulator: Emulator, leaky_agent: str
) -> None:
    with make_client(lyzr_emulator) as client, pytest.raises(AgentError) as caught:
        client.stream(_request(leaky_agent, message=PROMPT)).until_done()
    assert "4111" in str(caught.value) and caught.value.partial_text
    span = otel.invocation()
    assert span.status.description == "AgentError"
    assert (span.attributes or {})["lyzr.partial_text.length"] == len(caught.value.partial_text)
    _assert_says_nothing_of(otel.spans(), "4111", "1,234.56")


def test_a_timeout_describes_its_type_only(otel: Recorded, lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-fault": "delay-headers:2"}
    client = make_client(lyzr_emulator, default_headers=headers, timeout=0.3, max_retries=0)
    with client, pytest.raises(APITimeoutError):
        list(client.stream(_request(message=PROMPT)))
    assert otel.invocation().status.description == "APITimeoutError"


def test_with_content_capture_the_message_is_kept_and_the_secrets_scrubbed(
    otel: Recorded, echoing_service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(telemetry.CAPTURE_CONTENT_ENV, "true")
    # The caller pasted both secrets into the prompt; the service quotes it, and the key.
    message = f"{PROMPT} key {FAKE_KEY} header {HEADER_SECRET}"
    client = LyzrClient(
        api_key=FAKE_KEY,
        base_url=echoing_service,
        max_retries=0,
        default_headers={"x-proxy-auth": HEADER_SECRET},
    )
    with client, pytest.raises(APIStatusError):
        client.chat(_request("refused", message=message))
    span = otel.invocation()
    description = span.status.description or ""
    assert description.startswith("BadRequestError (HTTP 400): HTTP 400: cannot answer")
    assert "4111" in description and "[redacted]" in description
    assert "4111" in str((span.attributes or {})["gen_ai.input.messages"])
    _assert_says_nothing_of(otel.spans(), FAKE_KEY, HEADER_SECRET)


def test_no_secret_in_any_span_of_a_traced_stream(
    otel: Recorded, lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Content on, a prompt holding the secrets, tool spans, retries and a failure: the span
    # attributes (server.address included), events, names and status carry neither secret.
    monkeypatch.setenv(telemetry.CAPTURE_CONTENT_ENV, "true")
    message = f"{lyzr_emulator.api_key} {HEADER_SECRET}"
    headers = {"x-proxy-auth": HEADER_SECRET}
    with make_client(lyzr_emulator, default_headers=headers, dialect="chat-messages") as client:
        request = AgentRequest(agent_id="tools", message=message, session_id=str(uuid.uuid4()))
        assert client.stream(request).until_done().text
    retried = {**headers, "x-emulator-fault": "status:429:retry-after=0"}
    with make_client(lyzr_emulator, default_headers=retried, max_retries=1) as client:
        with pytest.raises(RateLimitError):
            list(client.stream(_request(message=message)))
    spans = otel.spans()
    assert {s.name for s in spans} >= {"invoke_agent", "execute_tool search"}
    first, failed = otel.spans("invoke_agent")
    attrs = first.attributes or {}
    assert attrs["server.address"] == "127.0.0.1" and "url.full" not in attrs
    assert [e.name for e in failed.events] == ["lyzr.retry"]
    _assert_says_nothing_of(spans, lyzr_emulator.api_key, HEADER_SECRET)


# -- an SDK that raises never fails the call -----------------------------------------------------
class _RaisingProcessor(SpanProcessor):
    """The application's processor, broken: ``on_start`` and/or ``on_end`` raise."""

    def __init__(self, at: str) -> None:
        self.at = at

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.at in ("start", "both"):
            raise RuntimeError(f"processor broken at start, key {FAKE_KEY}")

    def on_end(self, span: ReadableSpan) -> None:
        if self.at in ("end", "both"):
            raise RuntimeError(f"processor broken at end, key {FAKE_KEY}")


class _RaisingExporter(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        raise RuntimeError(f"exporter broken, key {FAKE_KEY}")


class _Raising:
    """A span, tracer, meter or histogram whose every method raises (but the few a provider
    needs to hand one out)."""

    def __getattr__(self, name: str) -> Any:
        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"{name} broken, key {FAKE_KEY}")

        return broken


class _RaisingTracer(_Raising):
    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        return _Raising()


class _RaisingMeter(_Raising):
    def create_histogram(self, *args: Any, **kwargs: Any) -> Any:
        return _Raising()


class _RaisingProviders:
    """A tracer and a meter provider whose spans and histograms raise on every operation."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
        return _RaisingTracer()

    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        return _RaisingMeter()


def _call(mode: str, client: LyzrClient, request: AgentRequest) -> str:
    if mode == "stream":
        return "".join(e.text for e in client.stream(request) if isinstance(e, TextDelta))
    if mode == "chat":
        return client.chat(request).text

    async def run() -> str:
        async with client:
            if mode == "astream":
                stream = client.astream(request)
                return "".join([e.text async for e in stream if isinstance(e, TextDelta)])
            return (await client.achat(request)).text

    return asyncio.run(run())


@pytest.fixture
def telemetry_log(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(telemetry, "_reported", False)
    caplog.set_level(logging.WARNING, logger="lyzr_stream")
    return caplog


def _assert_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    records = [r for r in caplog.records if "OpenTelemetry raised" in r.getMessage()]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.WARNING
    assert FAKE_KEY not in caplog.text and "broken" not in caplog.text


MODES_ALL = ["stream", "astream", "chat", "achat"]


@pytest.mark.parametrize("at", ["start", "end", "both"])
@pytest.mark.parametrize("mode", MODES_ALL)
def test_a_raising_span_processor_never_fails_the_call(
    otel: Recorded, lyzr_emulator: Emulator, telemetry_log: Any, mode: str, at: str
) -> None:
    otel.tracer_provider.add_span_processor(_RaisingProcessor(at))  # after the exporter's
    client = make_client(lyzr_emulator, default_headers={"x-proxy-auth": HEADER_SECRET})
    with client:
        text = _call(mode, client, _request("echo", message="still here"))
    assert text == "You said: still here"
    _assert_logged_once(telemetry_log)
    if at == "end":  # started and ended: the exporter before the broken processor has it
        assert (otel.invocation().attributes or {})["gen_ai.agent.id"] == "echo"


@pytest.mark.parametrize("mode", MODES_ALL)
def test_a_raising_exporter_never_fails_the_call(
    otel: Recorded, lyzr_emulator: Emulator, mode: str
) -> None:
    otel.tracer_provider.add_span_processor(SimpleSpanProcessor(_RaisingExporter()))
    with make_client(lyzr_emulator) as client:
        assert _call(mode, client, _request("echo", message="x")) == "You said: x"
    assert len(otel.spans("invoke_agent")) == 1


@pytest.mark.parametrize("mode", MODES_ALL)
def test_spans_and_metrics_that_raise_everywhere_never_fail_the_call(
    lyzr_emulator: Emulator, telemetry_log: Any, mode: str
) -> None:
    # Attributes, tool spans, events (a retry), status, end, every metric: each raises. The
    # call's own outcome is untouched: its answer, or its own error.
    providers = _RaisingProviders()
    _set_globals(providers, providers)
    try:
        with make_client(lyzr_emulator, dialect="chat-messages") as client:
            request = AgentRequest(agent_id="tools", message="lyzr", session_id=str(uuid.uuid4()))
            assert _call(mode, client, request) == "Found 2 results for lyzr."
        retried = {"x-emulator-fault": "status:429:retry-after=0"}  # a retry event, then failure
        with make_client(lyzr_emulator, default_headers=retried, max_retries=1) as client:
            with pytest.raises(RateLimitError):
                _call(mode, client, _request())
    finally:
        _set_globals(None, None)
    _assert_logged_once(telemetry_log)


# -- knowledge-base retrieval ----------------------------------------------------------------------
def _kb_client(em: Emulator, **kw: Any) -> LyzrClient:
    return LyzrClient(api_key=em.api_key, base_url=em.base_url, rag_base_url=em.base_url, **kw)


def test_retrieval_span(otel: Recorded, lyzr_emulator: Emulator) -> None:
    with _kb_client(lyzr_emulator) as client:
        chunks = client.retrieve("kb-handbook", "Lyzr Cafe opens", top_k=2)
        assert asyncio.run(client.aretrieve("kb-empty", "Lyzr Cafe opens")) == []
    first, second = otel.spans()
    assert (first.name, second.name) == ("retrieval kb-handbook", "retrieval kb-empty")
    attrs = first.attributes or {}
    assert first.kind == trace.SpanKind.CLIENT
    assert attrs["gen_ai.operation.name"] == "retrieval"
    assert attrs["gen_ai.provider.name"] == "lyzr"
    assert attrs["gen_ai.data_source.id"] == "kb-handbook"
    assert (attrs["server.address"], attrs["server.port"]) == ("127.0.0.1", lyzr_emulator.port)
    assert attrs["lyzr.retrieval.top_k"] == 2
    assert attrs["lyzr.retrieval.chunks"] == len(chunks) == 2
    assert (second.attributes or {})["lyzr.retrieval.chunks"] == 0
    assert "lyzr.retrieval.top_k" not in (second.attributes or {})
    # The query is not recorded (content capture is off by default).
    assert "Cafe" not in json.dumps([dict(s.attributes or {}) for s in otel.spans()])
    durations = otel.points("gen_ai.client.operation.duration")
    assert {p.attributes["gen_ai.operation.name"] for p in durations} == {"retrieval"}


def test_failed_retrieval_span_has_the_error_and_retries_and_no_secret(
    otel: Recorded, keyed_emulator: Emulator
) -> None:
    keyed_emulator.reset()
    flaky = {"x-emulator-fault": "fail-first:1:503"}
    with LyzrClient(
        api_key=FAKE_KEY,
        base_url=keyed_emulator.base_url,
        rag_base_url=keyed_emulator.base_url,
        default_headers=flaky,
    ) as client:
        assert client.retrieve("kb-handbook", "refunds")
        with pytest.raises(NotFoundError):
            client.retrieve(f"kb-{FAKE_KEY}", "refunds")
    ok, failed = otel.spans()
    assert [e.name for e in ok.events] == ["lyzr.retry"]
    assert (failed.attributes or {})["error.type"] == "NotFoundError"
    assert failed.status.status_code == trace.StatusCode.ERROR
    assert FAKE_KEY not in failed.name
    assert FAKE_KEY not in json.dumps(dict(failed.attributes or {}))


# -- background tasks (issue 27) -------------------------------------------------------------------
def test_a_task_run_is_one_invocation_span(otel: Recorded, lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-task-polls": "2", "x-emulator-poll-fault": "fail-first:1:503"}
    with make_client(lyzr_emulator, default_headers=headers) as client:
        response = client.run_task(_request(session_id="otel-t1"), poll_interval=0.01)
    span = otel.invocation()
    _check_invocation(span, lyzr_emulator, session="otel-t1", provider="lyzr")
    attrs = span.attributes or {}
    assert attrs["lyzr.task.id"] == lyzr_emulator.tasks[0]["task_id"]
    assert attrs["gen_ai.response.id"] == response.message_id
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert "lyzr.early_exit" not in attrs  # run_task stops reading at the answer: not early
    # The poll that was refused and retried is an event of the invocation's span.
    assert [e.name for e in span.events] == ["lyzr.retry"]
    assert len(otel.points("gen_ai.client.operation.duration")) == 1


async def test_a_failed_async_task_run_marks_its_span(
    otel: Recorded, lyzr_emulator: Emulator
) -> None:
    from lyzr_stream import TaskFailedError

    async with make_client(lyzr_emulator) as client:
        with pytest.raises(TaskFailedError):
            await client.arun_task(_request("fail-midway"), poll_interval=0.01)
    attrs = otel.invocation().attributes or {}
    assert attrs["error.type"] == "TaskFailedError"
    assert "lyzr.early_exit" not in attrs
    assert attrs["lyzr.task.id"] == lyzr_emulator.tasks[0]["task_id"]
