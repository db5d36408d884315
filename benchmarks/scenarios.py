"""One benchmark scenario per process: ``python -m benchmarks.scenarios NAME BASE_URL PARAMS``.

Each scenario prints one JSON object on its last stdout line. Per-token scenarios stream the
same ``long-N`` answer (the emulator batching ``per_write`` events into each socket write, so
the client is the bottleneck) ``repeats`` times after one warm-up, and report the median.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from lyzr_stream.emulator import long_answer_tokens

from .emulator_process import API_KEY

Params = dict[str, Any]


def _body(agent: str, message: str = "go") -> dict[str, Any]:
    return {
        "agent_id": agent,
        "message": message,
        "user_id": "bench",
        "session_id": f"bench-{uuid.uuid4().hex[:12]}",
    }


def _headers(p: Params) -> dict[str, str]:
    return {"x-emulator-events-per-write": str(p.get("per_write", 1000))}


def _check(text: str, n: int) -> None:
    if text != "".join(long_answer_tokens(n)):
        raise AssertionError(f"wrong text ({len(text)} characters)")


# -- per-token: one stream of n tokens ----------------------------------------------------------
def _per_token(run: Callable[[], int], p: Params) -> dict[str, Any]:
    """``run`` streams once and returns the number of chunks it delivered."""
    run()  # warm-up: connection, imports, caches
    walls, cpus, chunks = [], [], 0
    for _ in range(p.get("repeats", 5)):
        gc.collect()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        chunks = run()
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    n = p["n"]
    return {
        "us_per_token": statistics.median(walls) * 1e6 / n,
        "cpu_us_per_token": statistics.median(cpus) * 1e6 / n,
        "chunks": chunks,
    }


def httpx_lines(url: str, p: Params) -> dict[str, Any]:
    """The floor: raw httpx line iteration over the same response."""
    client = httpx.Client()
    body, headers = _body(f"long-{p['n']}"), {"x-api-key": API_KEY, **_headers(p)}

    def run() -> int:
        count = 0
        with client.stream("POST", f"{url}/v3/inference/stream/", json=body, headers=headers) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    count += 1
        return count

    return _per_token(run, p)


def langchain_floor(url: str, p: Params) -> dict[str, Any]:
    from .floors import FloorChatModel

    model = FloorChatModel(n=p["n"])
    return _per_token(lambda: sum(1 for _ in model.stream("go")), p)


def llamaindex_floor(url: str, p: Params) -> dict[str, Any]:
    from .floors import FloorLLM

    llm = FloorLLM(n=p["n"])
    return _per_token(lambda: sum(1 for _ in llm.stream_complete("go")), p)


def llamaindex_chat_floor(url: str, p: Params) -> dict[str, Any]:
    """The same CustomLLM through ``astream_chat`` (LlamaIndex wraps each delta in a message)."""
    from llama_index.core.base.llms.types import ChatMessage

    from .floors import FloorLLM

    llm = FloorLLM(n=p["n"])
    loop = asyncio.new_event_loop()
    messages = [ChatMessage(role="user", content="go")]

    async def consume() -> int:
        return len([r async for r in await llm.astream_chat(messages)])

    return _per_token(lambda: loop.run_until_complete(consume()), p)


def chat_openai(url: str, p: Params) -> dict[str, Any]:
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(
        model=f"long-{p['n']}",
        api_key=API_KEY,  # type: ignore[arg-type]
        base_url=f"{url}/v1",
        default_headers=_headers(p),
    )

    def run() -> int:
        parts = [c.text for c in model.stream("go")]
        _check("".join(parts), p["n"])
        return len(parts)

    return _per_token(run, p)


def lyzr_adk(url: str, p: Params) -> dict[str, Any]:
    from lyzr.http import HTTPClient
    from lyzr.inference import InferenceModule

    inference = InferenceModule(HTTPClient(api_key=API_KEY, base_url=url))
    # lyzr-adk sends no custom headers: the emulator process batches by default (run.py).
    agent = f"long-{p['n']}"

    def run() -> int:
        count = 0
        for chunk in inference.stream(agent, "go", f"bench-{uuid.uuid4().hex[:8]}"):
            count += not chunk.done
        return count

    return _per_token(run, p)


def _lyzr_kwargs(url: str, p: Params) -> dict[str, Any]:
    return {
        "api_key": API_KEY,
        "base_url": url,
        "default_headers": _headers(p),
        "coalesce": p.get("coalesce", True),
    }


def core_stream(url: str, p: Params) -> dict[str, Any]:
    from lyzr_stream import AgentRequest, LyzrClient, TextDelta

    client = LyzrClient(**_lyzr_kwargs(url, p))
    request = AgentRequest(agent_id=f"long-{p['n']}", message="go")

    def run() -> int:
        parts = []
        with client.stream(request) as stream:
            for event in stream:
                if type(event) is TextDelta:
                    parts.append(event.text)
        _check("".join(parts), p["n"])
        return len(parts)

    return _per_token(run, p)


def chatlyzr_stream(url: str, p: Params) -> dict[str, Any]:
    from langchain_lyzr_stream import ChatLyzr

    model = ChatLyzr(agent_id=f"long-{p['n']}", **_lyzr_kwargs(url, p))

    def run() -> int:
        parts = [c.text for c in model.stream("go")]
        _check("".join(parts), p["n"])
        return len(parts)

    return _per_token(run, p)


def chatlyzr_astream(url: str, p: Params) -> dict[str, Any]:
    from langchain_lyzr_stream import ChatLyzr

    model = ChatLyzr(agent_id=f"long-{p['n']}", **_lyzr_kwargs(url, p))
    loop = asyncio.new_event_loop()

    async def consume() -> int:
        parts = [c.text async for c in model.astream("go")]
        _check("".join(parts), p["n"])
        return len(parts)

    return _per_token(lambda: loop.run_until_complete(consume()), p)


def lyzrllm_stream_complete(url: str, p: Params) -> dict[str, Any]:
    from llamaindex_lyzr_stream import LyzrLLM

    llm = LyzrLLM(agent_id=f"long-{p['n']}", **_lyzr_kwargs(url, p))

    def run() -> int:
        parts = [r.delta or "" for r in llm.stream_complete("go")]
        _check("".join(parts), p["n"])
        return len(parts)

    return _per_token(run, p)


def lyzrllm_astream_chat(url: str, p: Params) -> dict[str, Any]:
    from llama_index.core.base.llms.types import ChatMessage

    from llamaindex_lyzr_stream import LyzrLLM

    llm = LyzrLLM(agent_id=f"long-{p['n']}", **_lyzr_kwargs(url, p))
    loop = asyncio.new_event_loop()
    messages = [ChatMessage(role="user", content="go")]

    async def consume() -> int:
        parts = [r.delta or "" async for r in await llm.astream_chat(messages)]
        _check("".join(parts), p["n"])
        return len(parts)

    return _per_token(lambda: loop.run_until_complete(consume()), p)


# -- time to first token ------------------------------------------------------------------------
def ttft(url: str, p: Params) -> dict[str, Any]:
    """Time to the first token through each surface vs raw httpx: warm pooled connections,
    surfaces interleaved round by round, each answer read to its end (so the connection is
    reused), the clock stopped at the first token."""
    from langchain_lyzr_stream import ChatLyzr
    from llamaindex_lyzr_stream import LyzrLLM
    from lyzr_stream import AgentRequest, LyzrClient, TextDelta

    raw = httpx.Client()
    headers = {"x-api-key": API_KEY}
    core = LyzrClient(api_key=API_KEY, base_url=url)
    model = ChatLyzr(agent_id="echo", api_key=API_KEY, base_url=url)
    llm = LyzrLLM(agent_id="echo", api_key=API_KEY, base_url=url)

    def t_raw() -> float:
        first = 0.0
        t0 = time.perf_counter()
        body = _body("echo", "hello there")
        with raw.stream("POST", f"{url}/v3/inference/stream/", json=body, headers=headers) as r:
            for line in r.iter_lines():
                if not first and line.startswith("data: "):
                    first = time.perf_counter() - t0
        return first

    def t_core() -> float:
        first = 0.0
        t0 = time.perf_counter()
        with core.stream(AgentRequest(agent_id="echo", message="hello there")) as stream:
            for event in stream:
                if not first and type(event) is TextDelta:
                    first = time.perf_counter() - t0
        return first

    def t_first(iterable_factory: Callable[[], Any]) -> Callable[[], float]:
        def measure() -> float:
            first = 0.0
            t0 = time.perf_counter()
            for _ in iterable_factory():
                if not first:
                    first = time.perf_counter() - t0
            return first

        return measure

    from .floors import FloorChatModel, FloorLLM

    lc_floor, li_floor = FloorChatModel(n=5), FloorLLM(n=5)
    runners = {
        "raw": t_raw,
        "core": t_core,
        "chatlyzr": t_first(lambda: model.stream("hello there")),
        "lyzrllm": t_first(lambda: llm.stream_complete("hello there")),
        # The frameworks' own cost before a first chunk, with no I/O at all.
        "langchain_floor": t_first(lambda: lc_floor.stream("hello there")),
        "llamaindex_floor": t_first(lambda: li_floor.stream_complete("hello there")),
    }
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(30):  # warm-up
        for fn in runners.values():
            fn()
    for _ in range(p.get("rounds", 300)):
        for name, fn in runners.items():
            samples[name].append(fn())
    paired = {name: list(values) for name, values in samples.items()}
    out: dict[str, Any] = {}
    for name, values in samples.items():
        values.sort()
        out[f"{name}_p50_ms"] = values[len(values) // 2] * 1e3
        out[f"{name}_p99_ms"] = values[int(len(values) * 0.99)] * 1e3
    # Added latency: paired per round (same moment, same server state), then the median.
    for name in ("core", "chatlyzr", "lyzrllm"):
        added = sorted(x - r for x, r in zip(paired[name], paired["raw"], strict=True))
        out[f"{name}_added_p50_ms"] = added[len(added) // 2] * 1e3
        out[f"{name}_added_p90_ms"] = added[int(len(added) * 0.9)] * 1e3
    return out


# -- time to first token with the agent events channel -------------------------------------------
def ttft_agent_events(url: str, p: Params) -> dict[str, Any]:
    """Time to first token of the core sync stream with the agent events socket on vs off.

    Paired round by round against the same client with events off: ``connected`` (the socket
    opens on loopback), ``refused`` (nothing listens: the connection is refused at once) and
    ``stalled`` (the handshake is never answered: the connect bound, 0.5 s, is what it costs).
    The grace period after the answer is 0 here: only the first token is measured.
    """
    from lyzr_stream import AgentRequest, LyzrClient, TextDelta
    from lyzr_stream.emulator.agent_events import events_url_of
    from lyzr_stream.emulator.front import unused_loopback_port

    def client(events_url: str | None) -> LyzrClient:
        if events_url is None:
            return LyzrClient(api_key=API_KEY, base_url=url)
        return LyzrClient(
            api_key=API_KEY, base_url=url, agent_events=True, events_url=events_url, events_grace=0
        )

    clients = {
        "off": client(None),
        "connected": client(events_url_of(url)),
        "refused": client(f"ws://127.0.0.1:{unused_loopback_port()}"),
    }

    def measure(c: LyzrClient, session_id: str | None = None) -> float:
        first = 0.0
        t0 = time.perf_counter()
        with c.stream(AgentRequest(agent_id="echo", message="hi", session_id=session_id)) as s:
            for event in s:
                if not first and type(event) is TextDelta:
                    first = time.perf_counter() - t0
        return first

    samples: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(20):  # warm-up: imports, pools
        for c in clients.values():
            measure(c)
    for _ in range(p.get("rounds", 200)):
        for name, c in clients.items():
            samples[name].append(measure(c))
    stalled = [measure(clients["connected"], f"bench-ws-stall-{i}") for i in range(3)]
    out: dict[str, Any] = {"off_p50_ms": statistics.median(samples["off"]) * 1e3}
    for name in ("connected", "refused"):
        added = sorted(x - o for x, o in zip(samples[name], samples["off"], strict=True))
        out[f"{name}_added_p50_ms"] = added[len(added) // 2] * 1e3
        out[f"{name}_added_p90_ms"] = added[int(len(added) * 0.9)] * 1e3
    out["stalled_max_ms"] = max(stalled) * 1e3
    out["connect_timeout_ms"] = clients["connected"].agent_events.connect_timeout * 1e3  # type: ignore[union-attr]
    return out


# -- OpenTelemetry tracing on vs off --------------------------------------------------------------
def _set_tracing(on: bool) -> Any:
    """Install (or remove) an SDK tracer and meter provider with in-memory exporters.

    The API lets a process set its global providers once; like OpenTelemetry's own test
    utilities, the benchmark resets them so that on and off can alternate round by round.
    """
    from opentelemetry import metrics, trace
    from opentelemetry.metrics import _internal as metrics_internal
    from opentelemetry.util._once import Once

    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    if not on:
        return None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    return exporter


def core_stream_traced(url: str, p: Params) -> dict[str, Any]:
    """``core_stream`` with tracing on: an SDK provider, spans kept in memory."""
    _set_tracing(True)
    return core_stream(url, p)


def otel_floor(url: str, p: Params) -> dict[str, Any]:
    """The OpenTelemetry SDK's own cost per chunk, no I/O: one record of the
    ``gen_ai.client.operation.time_per_output_chunk`` histogram with the attributes a traced
    stream gives it. The GenAI semantic conventions ask for one record per chunk after the
    first, so a traced stream with coalescing off cannot cost less than this per token."""
    from opentelemetry import metrics

    _set_tracing(True)
    histogram = metrics.get_meter("floor").create_histogram(
        "gen_ai.client.operation.time_per_output_chunk", unit="s"
    )
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "lyzr",
        "server.address": "127.0.0.1",
        "server.port": 8080,
    }

    def run() -> int:
        last = time.monotonic()
        for _ in range(p["n"]):
            now = time.monotonic()
            histogram.record(now - last, attributes)
            last = now
        return p["n"]

    return _per_token(run, p)


def ttft_tracing(url: str, p: Params) -> dict[str, Any]:
    """Time to first token of the core sync stream, tracing on vs off, paired round by round
    (off: the OpenTelemetry API installed, no provider set; on: the SDK with in-memory
    exporters)."""
    from lyzr_stream import AgentRequest, LyzrClient, TextDelta

    client = LyzrClient(api_key=API_KEY, base_url=url)
    request = AgentRequest(agent_id="echo", message="hi")

    def measure() -> float:
        t0 = time.perf_counter()
        with client.stream(request) as stream:
            for event in stream:
                if type(event) is TextDelta:
                    first = time.perf_counter() - t0
                    break
        return first

    samples: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(20):
        measure()
    for _ in range(p.get("rounds", 200)):
        for name in ("off", "on"):
            exporter = _set_tracing(name == "on")
            samples[name].append(measure())
            if exporter is not None:
                exporter.clear()
    _set_tracing(False)
    added = sorted(on - off for on, off in zip(samples["on"], samples["off"], strict=True))
    return {
        "off_p50_ms": statistics.median(samples["off"]) * 1e3,
        "on_p50_ms": statistics.median(samples["on"]) * 1e3,
        "added_p50_ms": added[len(added) // 2] * 1e3,
        "added_p90_ms": added[int(len(added) * 0.9)] * 1e3,
    }


# -- invoke cost by answer size -----------------------------------------------------------------
def invoke_scaling(url: str, p: Params) -> dict[str, Any]:
    """``ChatLyzr(streaming=True).invoke`` (chunks merged into one message) at 1k/10k/100k."""
    from langchain_lyzr_stream import ChatLyzr

    out: dict[str, Any] = {}
    for n in (1_000, 10_000, 100_000):
        model = ChatLyzr(
            agent_id=f"long-{n}",
            streaming=True,
            coalesce=False,
            api_key=API_KEY,
            base_url=url,
            default_headers={"x-emulator-events-per-write": "1000"},
        )
        model.invoke("go")
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            message = model.invoke("go")
            times.append(time.perf_counter() - t0)
        _check(message.text, n)
        out[f"us_per_chunk_{n}"] = statistics.median(times) * 1e6 / n
    out["ratio_100k_to_1k"] = out["us_per_chunk_100000"] / out["us_per_chunk_1000"]
    return out


# -- the session record: the one history read per session per process -----------------------
def session_first_use(url: str, p: Params) -> dict[str, Any]:
    """What the session rule adds (#26): ``ChatLyzr.invoke`` with a session id and a prompt
    carrying earlier turns, on a session this process has not used (one history read, then the
    call) and again on the same session (the record knows it: no read); paired per round."""
    from langchain_core.messages import AIMessage, HumanMessage

    from langchain_lyzr_stream import ChatLyzr

    model = ChatLyzr(agent_id="echo", api_key=API_KEY, base_url=url)
    reads = 0
    history = model.client.session_history

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return history(*args, **kwargs)

    model.client.session_history = counted  # type: ignore[method-assign]
    prompt = [HumanMessage("My name is Ada"), AIMessage("Hello Ada"), HumanMessage("My name?")]
    model.invoke(prompt, session_id="bench-warm")
    first, again = [], []
    rounds = p.get("rounds", 200)
    for _ in range(rounds):
        session = f"bench-{uuid.uuid4().hex[:12]}"
        t0 = time.perf_counter()
        model.invoke(prompt, session_id=session)
        t1 = time.perf_counter()
        model.invoke(prompt, session_id=session)
        t2 = time.perf_counter()
        first.append(t1 - t0)
        again.append(t2 - t1)
    added = sorted(a - b for a, b in zip(first, again, strict=True))
    return {
        "first_use_p50_ms": statistics.median(first) * 1e3,
        "known_p50_ms": statistics.median(again) * 1e3,
        "added_p50_ms": statistics.median(added) * 1e3,
        "added_p90_ms": added[int(len(added) * 0.9)] * 1e3,
        "history_reads_per_session": (reads - 1) / rounds,
    }


# -- concurrency --------------------------------------------------------------------------------
def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _concurrent(p: Params, one: Callable[[int], Any]) -> dict[str, Any]:
    base = _rss_mb()
    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(p["streams"])))
    wall = time.perf_counter() - t0
    expected = "".join(long_answer_tokens(p["tokens"]))
    complete = sum(1 for text in results if text == expected)
    return {
        "wall_s": wall,
        "peak_rss_mb": _rss_mb(),
        "rss_growth_mb": _rss_mb() - base,
        "complete": complete,
    }


def concurrency_httpx(url: str, p: Params) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=p["streams"], max_keepalive_connections=p["streams"])

    async def main() -> dict[str, Any]:
        async with httpx.AsyncClient(limits=limits, timeout=120) as client:

            async def one(i: int) -> str:
                body = _body(f"long-{p['tokens']}")
                parts = []
                async with client.stream(
                    "POST", f"{url}/v3/inference/stream/", json=body, headers={"x-api-key": API_KEY}
                ) as r:
                    async for line in r.aiter_lines():
                        if line.startswith("data: ") and line != "data: [DONE]":
                            parts.append(line[6:])
                return "".join(parts)

            return await _concurrent(p, one)

    return asyncio.run(main())


def concurrency_chatlyzr(url: str, p: Params) -> dict[str, Any]:
    from langchain_lyzr_stream import ChatLyzr
    from lyzr_stream import Timeouts

    model = ChatLyzr(
        agent_id=f"long-{p['tokens']}",
        api_key=API_KEY,
        base_url=url,
        timeout=Timeouts(read=120, pool=120),
    )

    async def main() -> dict[str, Any]:
        async def one(i: int) -> str:
            return "".join([c.text async for c in model.astream("go")])

        return await _concurrent(p, one)

    return asyncio.run(main())


def concurrency_core(url: str, p: Params) -> dict[str, Any]:
    from lyzr_stream import AgentRequest, LyzrClient, TextDelta, Timeouts

    client = LyzrClient(api_key=API_KEY, base_url=url, timeout=Timeouts(read=120, pool=120))

    async def main() -> dict[str, Any]:
        async def one(i: int) -> str:
            request = AgentRequest(agent_id=f"long-{p['tokens']}", message="go")
            parts = []
            async with client.astream(request) as stream:
                async for event in stream:
                    if type(event) is TextDelta:
                        parts.append(event.text)
            return "".join(parts)

        return await _concurrent(p, one)

    return asyncio.run(main())


def concurrency_langchain_floor(url: str, p: Params) -> dict[str, Any]:
    """The framework alone: 1,000 concurrent astream calls of a no-I/O model."""
    from .floors import FloorChatModel

    model = FloorChatModel(n=p["tokens"])

    async def main() -> dict[str, Any]:
        async def one(i: int) -> str:
            parts = []
            async for chunk in model.astream("go"):
                parts.append(chunk.text)
                await asyncio.sleep(0)  # interleave the streams as network reads would
            return "".join(parts)

        return await _concurrent(p, one)

    return asyncio.run(main())


def concurrency_lyzr_adk(url: str, p: Params) -> dict[str, Any]:
    from lyzr.http import AsyncHTTPClient, HTTPClient
    from lyzr.inference import InferenceModule

    async def main() -> dict[str, Any]:
        inference = InferenceModule(
            HTTPClient(api_key=API_KEY, base_url=url, timeout=120),
            AsyncHTTPClient(api_key=API_KEY, base_url=url, timeout=120),
        )

        async def one(i: int) -> str:
            parts = []
            async for chunk in inference.astream(f"long-{p['tokens']}", "go", f"adk-{i}"):
                if not chunk.done:
                    parts.append(chunk.content)
            return "".join(parts)

        return await _concurrent(p, one)

    return asyncio.run(main())


# -- import time: each statement in fresh interpreters ---------------------------------------------
IMPORT_BASELINE = "import httpx, pydantic"
READY_TO_CALL = (
    "from lyzr_stream import AgentRequest, LyzrClient; "
    "LyzrClient(api_key='k'); AgentRequest(agent_id='a', message='m')"
)
# The core's statements are measured against IMPORT_BASELINE; a framework class against what any
# class of that framework loads (its base class); the peers' packages against IMPORT_BASELINE.
LANGCHAIN_BASELINE = "from langchain_core.language_models import BaseChatModel"
LLAMAINDEX_BASELINE = "from llama_index.core.llms.function_calling import FunctionCallingLLM"
IMPORT_STATEMENTS: tuple[tuple[str, str], ...] = (
    # (statement, the statement it is compared with)
    (IMPORT_BASELINE, IMPORT_BASELINE),
    ("import lyzr_stream", IMPORT_BASELINE),
    # The core ready to call: what a program pays before its first request goes out.
    (READY_TO_CALL, IMPORT_BASELINE),
    (LANGCHAIN_BASELINE, LANGCHAIN_BASELINE),
    ("from langchain_lyzr_stream import ChatLyzr", LANGCHAIN_BASELINE),
    (LLAMAINDEX_BASELINE, LLAMAINDEX_BASELINE),
    ("from llamaindex_lyzr_stream import LyzrLLM", LLAMAINDEX_BASELINE),
    ("import langchain_core", IMPORT_BASELINE),
    ("import llama_index.core", IMPORT_BASELINE),
    ("import langchain_openai", IMPORT_BASELINE),
    ("import lyzr", IMPORT_BASELINE),
)
#: The packages whose import is measured from this checkout (compiled first, as an install is).
CHECKOUT_PACKAGES = ("lyzr_stream", "langchain_lyzr_stream", "llamaindex_lyzr_stream")


def import_times(url: str, p: Params) -> dict[str, Any]:
    """Median milliseconds each statement takes in a fresh interpreter, and its ratio to its
    baseline (``import httpx, pydantic`` for the core). The statements take turns, so that a
    busy machine slows all of them alike. ``url`` is not used.

    The checkout's packages are byte-compiled first: an installed package is, and without it
    (``PYTHONDONTWRITEBYTECODE`` set) every run would compile lyzr-stream's sources while the
    libraries it is compared with load their ``.pyc`` files."""
    root = Path(__file__).resolve().parent.parent
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *(str(root / d) for d in CHECKOUT_PACKAGES)],
        capture_output=True,
        check=True,
    )
    code = (
        "import time; t, c = time.perf_counter(), time.process_time(); {}; "
        "print(time.perf_counter() - t, time.process_time() - c)"
    )
    # One untimed run each first (it also warms the file cache); a peer that is not installed
    # (``make bench`` installs them) is left out and listed as missing.
    runnable = {
        statement: subprocess.run(
            [sys.executable, "-c", statement], capture_output=True, check=False
        ).returncode
        == 0
        for statement, _ in IMPORT_STATEMENTS
    }
    statements = [s for s, baseline in IMPORT_STATEMENTS if runnable[s] and runnable[baseline]]
    wall: dict[str, list[float]] = {statement: [] for statement in statements}
    cpu: dict[str, list[float]] = {statement: [] for statement in statements}
    for _ in range(p.get("repeats", 7)):
        for statement in statements:
            done = subprocess.run(
                [sys.executable, "-c", code.format(statement)],
                capture_output=True,
                text=True,
                check=True,
            )
            w, c = done.stdout.split()
            wall[statement].append(float(w))
            cpu[statement].append(float(c))
    ms = {statement: statistics.median(times) * 1e3 for statement, times in wall.items()}
    cpu_ms = {statement: statistics.median(times) * 1e3 for statement, times in cpu.items()}
    baseline_of = {s: b for s, b in IMPORT_STATEMENTS if s in ms}
    return {
        "repeats": p.get("repeats", 7),
        "missing": [s for s, _ in IMPORT_STATEMENTS if s not in ms],
        "baseline": IMPORT_BASELINE,
        "baseline_of": baseline_of,
        "ms": ms,
        "cpu_ms": cpu_ms,
        "ratio": {s: ms[s] / ms[baseline_of[s]] for s in statements},
        "cpu_ratio": {s: cpu_ms[s] / cpu_ms[baseline_of[s]] for s in statements},
    }


SCENARIOS: dict[str, Callable[[str, Params], dict[str, Any]]] = {
    fn.__name__: fn
    for fn in (
        httpx_lines,
        langchain_floor,
        otel_floor,
        llamaindex_floor,
        llamaindex_chat_floor,
        chat_openai,
        lyzr_adk,
        core_stream,
        chatlyzr_stream,
        chatlyzr_astream,
        lyzrllm_stream_complete,
        lyzrllm_astream_chat,
        ttft,
        ttft_agent_events,
        invoke_scaling,
        session_first_use,
        concurrency_httpx,
        concurrency_chatlyzr,
        concurrency_core,
        concurrency_langchain_floor,
        concurrency_lyzr_adk,
        import_times,
        core_stream_traced,
        ttft_tracing,
    )
}


def main() -> None:
    name, url, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    print(json.dumps(SCENARIOS[name](url, params)))


if __name__ == "__main__":
    main()
