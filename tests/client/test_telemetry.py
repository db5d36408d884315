"""OpenTelemetry spans and metrics (GenAI conventions), read back from the SDK's in-memory
exporters, for every dialect and every surface (core sync/async, ChatLyzr, LyzrLLM)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncGenerator, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import pytest

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import (
    AgentRequest,
    InternalServerError,
    LyzrClient,
    StreamEnd,
    StreamInterruptedError,
    TextDelta,
)
from lyzr_stream import _telemetry as telemetry
from lyzr_stream.emulator import Emulator
from tests.helpers.clients import make_client
from tests.helpers.dialects import SETUPS, setup

otel_sdk = pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")

from opentelemetry import metrics, trace  # noqa: E402
from opentelemetry.metrics import _internal as metrics_internal  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
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


def test_the_span_nests_under_the_current_context(
    otel: Recorded, lyzr_emulator: Emulator
) -> None:
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
