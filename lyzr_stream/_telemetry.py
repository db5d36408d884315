"""OpenTelemetry traces and metrics for every agent call (GenAI semantic conventions).

Optional: ``pip install "lyzr-stream[otel]"`` (``opentelemetry-api``). Nothing is recorded, and
nothing costs more than one check per call, unless the API is installed *and* the application
set a tracer or meter provider (an SDK, an OTLP exporter, an OpenInference or Traceloop setup).

What is recorded, per the conventions for invoking an agent (development status, 2026):

- one ``CLIENT`` span per agent invocation, named ``invoke_agent`` (the service gives agents an
  id, not a human-readable name), with ``gen_ai.operation.name`` = ``invoke_agent``,
  ``gen_ai.provider.name`` (the dialect's ``provider``: ``lyzr`` for the Lyzr dialects),
  ``gen_ai.agent.id``, ``gen_ai.conversation.id`` (the session id), ``server.address`` /
  ``server.port``, ``gen_ai.response.id`` (the message id), ``gen_ai.response.finish_reasons``,
  and on failure ``error.type`` (the error's class name, e.g. ``InternalServerError``,
  ``StreamInterruptedError``) with the span status set to error. Streams also record
  ``lyzr.time_to_first_chunk`` (s), ``lyzr.output_chunks`` and ``lyzr.partial_text.length``
  (the text the caller got before a failure or an early exit), and ``lyzr.early_exit`` when the
  caller left before the end. Each retry is a span event ``lyzr.retry`` (attempt, error, delay).
  The span nests under the current OpenTelemetry context, so a framework instrumentation
  (OpenInference, Traceloop) shows it under its own LLM span.
- tools the agent ran on the server (``ToolActivity``: chat-messages events, one-shot
  ``tool_calls``, the agent-events channel) become child spans ``execute_tool {name}``
  (``gen_ai.tool.name``, ``gen_ai.tool.type`` = ``extension``: run by the agent's side).
- a knowledge-base retrieval (``LyzrClient.retrieve``) is one ``CLIENT`` span named
  ``retrieval {rag_id}``, with ``gen_ai.operation.name`` = ``retrieval`` (the GenAI
  conventions' retrieval operation; ``{operation} {target}`` as ``chat {model}`` is named),
  ``gen_ai.provider.name``, ``gen_ai.data_source.id`` (the knowledge base's id),
  ``server.address`` / ``server.port`` (the knowledge-base host), ``lyzr.retrieval.top_k`` when
  given and ``lyzr.retrieval.chunks`` (how many passages came back); on failure
  ``error.type`` and the error status, as above. The query and the passages are not recorded.
- metrics: ``gen_ai.client.operation.duration`` (s, every call),
  ``gen_ai.client.operation.time_to_first_chunk`` and
  ``gen_ai.client.operation.time_per_output_chunk`` (s, streams only).
- message content only when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``
  (the conventions' opt-in): ``gen_ai.input.messages`` and ``gen_ai.output.messages``. Without
  it, a failed span's status description is the error type and HTTP status only
  (``RateLimitError (HTTP 429)``): an error message may quote the prompt or the answer; with
  it, the message follows, scrubbed like every other string.

Two rules hold for everything recorded, through one wrapper (:class:`_Span`, with
:func:`_guarded` for metrics): every string (attributes, event attributes, status, span names)
is scrubbed of the client's secrets (``ClientSettings.secrets``, by :func:`~._errors.scrub`), and
an OpenTelemetry SDK that raises (a span processor at start or end, an exporter, a metric
reader) never fails the call: the call goes on, its telemetry may be incomplete, and the first
such failure is logged once at WARNING by its type (its message might quote an attribute).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Sized
from contextlib import aclosing, closing, contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._errors import APIStatusError, scrub
from ._events import StreamEnd, StreamEvent, TextDelta, ToolActivity

if TYPE_CHECKING:
    from ._request import AgentRequest
    from ._response import AgentResponse
    from ._settings import ClientSettings

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "note_retry",
    "traced_async_events",
    "traced_call",
    "traced_events",
    "traced_retrieval",
    "traced_task",
]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_INSTRUMENTATION = "lyzr_stream"
#: A status description quotes at most this much (with content capture on).
_STATUS_CHARS = 200

logger = logging.getLogger("lyzr_stream")

_api: Any = None  # the opentelemetry modules once imported; False when not installed


def _otel() -> Any:
    global _api
    if _api is None:
        try:
            from opentelemetry import context, metrics, trace
        except ImportError:
            _api = False
        else:
            _api = (trace, metrics, context)
    return _api


class _Instruments:
    """The tracer and the three histograms, from the providers in force right now."""

    __slots__ = ("duration", "per_chunk", "tracer", "ttfc")

    def __init__(self, trace: Any, metrics: Any) -> None:
        from ._version import __version__

        self.tracer = trace.get_tracer(_INSTRUMENTATION, __version__)
        meter = metrics.get_meter(_INSTRUMENTATION, __version__)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration."
        )
        self.ttfc = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of a streamed answer.",
        )
        self.per_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_per_output_chunk",
            unit="s",
            description="Time between output chunks of a streamed answer.",
        )


_cache: dict[tuple[int, int], _Instruments] = {}


def _instruments() -> _Instruments | None:
    """None unless opentelemetry is installed and a tracer or meter provider was set (or the
    providers fail to give a tracer and instruments: the call then goes on untraced)."""
    api = _otel()
    if not api:
        return None
    trace, metrics, _ = api
    tracer_provider = trace.get_tracer_provider()
    meter_provider = metrics.get_meter_provider()
    if _is_default(tracer_provider) and _is_default(meter_provider):
        return None
    key = (id(tracer_provider), id(meter_provider))
    found = _cache.get(key)
    if found is None:
        found = _guarded("setting up the tracer and meter", _Instruments, trace, metrics)
        if found is None:
            return None
        _cache[key] = found
    return found


# -- the guard between a call and the SDK ---------------------------------------------------------
_reported = False


def _guarded(stage: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``operation(*args, **kwargs)``, or None when it raises: the one guard between a call and
    the OpenTelemetry SDK, whose span processors, exporters and metric readers are the
    application's code. A failure there never fails the call; the first one is logged once."""
    try:
        return operation(*args, **kwargs)
    except Exception as error:
        _report(stage, error)
        return None


def _report(stage: str, error: Exception) -> None:
    global _reported
    if _reported:
        return
    _reported = True
    # By type only: the message of an exporter's error may quote an attribute or a header.
    logger.warning(
        "OpenTelemetry raised %s while %s; the call went on and its telemetry may be "
        "incomplete (further telemetry failures are not logged)",
        type(error).__name__,
        stage,
    )


def _clean(value: Any, secrets: tuple[str, ...]) -> Any:
    """An attribute value with the secrets scrubbed from its strings."""
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, (list, tuple)):
        return [scrub(v, secrets) if isinstance(v, str) else v for v in value]
    return value


class _Span:
    """A span this module records, written only through here: each operation behind the
    guard, every string scrubbed of the client's ``secrets``. A span whose start failed is the
    API's invalid span (nothing is recorded; what nests under it still runs)."""

    __slots__ = ("_secrets", "span")

    def __init__(self, tracer: Any, name: str, secrets: tuple[str, ...], **kwargs: Any) -> None:
        self._secrets = secrets
        attributes = kwargs.get("attributes")
        if attributes:
            kwargs["attributes"] = {k: _clean(v, secrets) for k, v in attributes.items()}
        span = _guarded("starting a span", tracer.start_span, _clean(name, secrets), **kwargs)
        self.span = span if span is not None else _otel()[0].INVALID_SPAN

    def set(self, name: str, value: Any) -> None:
        _guarded(
            "setting a span attribute", self.span.set_attribute, name, _clean(value, self._secrets)
        )

    def error(self, description: str) -> None:
        trace = _otel()[0]
        status = trace.Status(trace.StatusCode.ERROR, _clean(description, self._secrets))
        _guarded("setting a span status", self.span.set_status, status)

    def end(self) -> None:
        _guarded("ending a span", self.span.end)


def _status_description(error: BaseException, secrets: tuple[str, ...]) -> str:
    """The error type and HTTP status; the (scrubbed) message only with content capture on:
    a service's error message may echo the prompt, an agent's error the answer."""
    head = type(error).__name__
    if isinstance(error, APIStatusError):
        head = f"{head} (HTTP {error.status_code})"
    if not _capture_content():
        return head
    return f"{head}: {scrub(str(error), secrets)}"[:_STATUS_CHARS]


def _is_default(provider: Any) -> bool:
    # The API's stand-ins until an application sets a provider (proxy or no-op classes).
    name = type(provider).__name__
    return name.startswith(("Proxy", "_Proxy", "NoOp", "_NoOp", "DefaultMeterProvider"))


def _capture_content() -> bool:
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in ("1", "true", "yes")


def _operation_attrs(operation: str, settings: ClientSettings, url: str) -> dict[str, Any]:
    """What an operation's span and its duration metric share: the operation, the provider and
    the server it goes to (``url``: the agent host, or the knowledge-base host)."""
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": settings.dialect.provider,
    }
    parts = urlsplit(url)
    if parts.hostname:
        attrs["server.address"] = parts.hostname
        attrs["server.port"] = parts.port or (443 if parts.scheme == "https" else 80)
    return attrs


def _end_operation(
    span: _Span,
    instruments: _Instruments,
    metric_attrs: dict[str, Any],
    started: float,
    secrets: tuple[str, ...],
    error: BaseException | None,
) -> None:
    """An operation's end, for every kind of span: a failure marked (``error.type``, the
    status), the duration recorded (with ``error.type`` too), the span ended."""
    if error is not None:
        kind = type(error).__name__
        metric_attrs = {**metric_attrs, "error.type": kind}
        span.set("error.type", kind)
        span.error(_status_description(error, secrets))
    elapsed = time.monotonic() - started
    _guarded("recording a metric", instruments.duration.record, elapsed, metric_attrs)
    span.end()


class _Call:
    """One agent invocation's span and measurements."""

    __slots__ = (
        "_api",
        "_attrs",
        "_chunks",
        "_instruments",
        "_last_chunk",
        "_metric_attrs",
        "_open_tools",
        "_secrets",
        "_started",
        "_text_length",
        "_texts",
        "_ttfc",
        "span",
        "streaming",
    )

    def __init__(
        self,
        instruments: _Instruments,
        settings: ClientSettings,
        request: AgentRequest,
        *,
        streaming: bool,
    ) -> None:
        self._api = _otel()
        self._instruments = instruments
        self._secrets = settings.secrets
        self.streaming = streaming
        self._metric_attrs = _operation_attrs("invoke_agent", settings, settings.base_url)
        self._attrs: dict[str, Any] = {**self._metric_attrs, "gen_ai.agent.id": request.agent_id}
        if request.session_id:
            self._attrs["gen_ai.conversation.id"] = request.session_id
        if _capture_content():
            self._attrs["gen_ai.input.messages"] = _input_messages(request)
        trace = self._api[0]
        self.span = _Span(
            instruments.tracer,
            "invoke_agent",
            self._secrets,
            kind=trace.SpanKind.CLIENT,
            attributes=self._attrs,
        )
        self._started = time.monotonic()
        self._chunks = 0
        self._ttfc: float | None = None
        self._last_chunk = self._started
        self._text_length = 0
        self._texts: list[str] | None = [] if _capture_content() else None
        self._open_tools: list[tuple[str, Any]] = []

    def context(self) -> Any:
        return self._api[0].set_span_in_context(self.span.span)

    @contextmanager
    def current(self) -> Iterator[None]:
        """The invocation is the current span within: what happens there nests under it."""
        context = self._api[2]
        token = context.attach(self.context())
        try:
            yield
        finally:
            context.detach(token)

    # The call as a context manager: finished once, by how its block ended (the sync and async
    # stream wrappers and the one-shot calls all end a span through this one rule).
    def __enter__(self) -> _Call:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None:
            self.finish()
        elif isinstance(error, GeneratorExit):  # the caller left the stream before its end
            self.finish(early_exit=True)
        else:
            self.finish(error)

    # -- stream events -------------------------------------------------------------------
    def observe(self, event: object) -> None:
        if isinstance(event, TextDelta):
            now = time.monotonic()
            if self._ttfc is None:
                self._ttfc = now - self._started
                _guarded(
                    "recording a metric",
                    self._instruments.ttfc.record,
                    self._ttfc,
                    self._metric_attrs,
                )
            else:
                _guarded(
                    "recording a metric",
                    self._instruments.per_chunk.record,
                    now - self._last_chunk,
                    self._metric_attrs,
                )
            self._last_chunk = now
            self._chunks += 1
            self._text_length += len(event.text)
            if self._texts is not None:
                self._texts.append(event.text)
        elif isinstance(event, ToolActivity):
            self._tool(event)
        elif isinstance(event, StreamEnd):
            if event.message_id:
                self.span.set("gen_ai.response.id", event.message_id)
            self.span.set("gen_ai.response.finish_reasons", [event.finish_reason])

    def _tool(self, activity: ToolActivity) -> None:
        trace = self._api[0]
        if activity.phase == "call":
            span = _Span(
                self._instruments.tracer,
                f"execute_tool {activity.name}",
                self._secrets,
                context=self.context(),
                kind=trace.SpanKind.INTERNAL,
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": activity.name,
                    "gen_ai.tool.type": "extension",
                },
            )
            self._open_tools.append((activity.name, span))
            return
        for index, (name, span) in enumerate(self._open_tools):
            if name == activity.name:
                del self._open_tools[index]
                span.end()
                return
        # A result without its call (the call came before tracing saw the stream): one span.
        _Span(
            self._instruments.tracer,
            f"execute_tool {activity.name}",
            self._secrets,
            context=self.context(),
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": activity.name},
        ).end()

    def response(self, response: AgentResponse) -> None:
        """A whole one-shot answer."""
        self.span.set("gen_ai.conversation.id", response.session_id)
        if response.message_id:
            self.span.set("gen_ai.response.id", response.message_id)
        self.span.set("gen_ai.response.finish_reasons", [response.finish_reason])
        for activity in response.tool_activity:
            self._tool(activity)
        if self._texts is not None:
            self._texts.append(response.text)

    # -- the end -------------------------------------------------------------------------
    def finish(self, error: BaseException | None = None, *, early_exit: bool = False) -> None:
        span = self.span
        for _, tool_span in self._open_tools:
            tool_span.end()
        self._open_tools.clear()
        if self.streaming:
            span.set("lyzr.output_chunks", self._chunks)
            if self._ttfc is not None:
                span.set("lyzr.time_to_first_chunk", self._ttfc)
        if early_exit:
            span.set("lyzr.early_exit", True)
        if error is not None or early_exit:
            span.set("lyzr.partial_text.length", self._text_length)
        if self._texts is not None:
            part = {"type": "text", "content": "".join(self._texts)}
            output = [{"role": "assistant", "parts": [part]}]
            span.set("gen_ai.output.messages", json.dumps(output))
        _end_operation(
            span, self._instruments, self._metric_attrs, self._started, self._secrets, error
        )


def _input_messages(request: AgentRequest) -> str:
    if request.messages:
        entries = [
            {"role": m.role, "parts": [{"type": "text", "content": m.content}]}
            for m in request.messages
        ]
    else:
        entries = [{"role": "user", "parts": [{"type": "text", "content": request.message}]}]
    return json.dumps(entries)


# -- streams -------------------------------------------------------------------------------------
def traced_events(
    events: Generator[StreamEvent, None, None], settings: ClientSettings, request: AgentRequest
) -> Generator[StreamEvent, None, None]:
    """``events`` traced as one invocation (returned as they are unless OpenTelemetry is set
    up)."""
    instruments = _instruments()
    if instruments is None:
        return events
    return _traced(events, instruments, settings, request)


def traced_async_events(
    events: AsyncGenerator[StreamEvent, None], settings: ClientSettings, request: AgentRequest
) -> AsyncGenerator[StreamEvent, None]:
    """Async form of :func:`traced_events`."""
    instruments = _instruments()
    if instruments is None:
        return events
    return _atraced(events, instruments, settings, request)


#: What ``next``/``anext`` give for an answer with no event at all.
_NO_EVENT: Any = object()


# The two wrappers differ only in how they iterate: the rules (the span starts when iteration
# does; the invocation current until the first event, when the request and its retries happen;
# each event observed; the answer's own iterator closed first, then the span finished by how the
# stream ended) are the _Call's.
def _traced(
    inner: Generator[StreamEvent, None, None],
    instruments: _Instruments,
    settings: ClientSettings,
    request: AgentRequest,
) -> Generator[StreamEvent, None, None]:
    call = _Call(instruments, settings, request, streaming=True)
    observe = call.observe
    with call, closing(inner):
        with call.current():
            event = next(inner, _NO_EVENT)
        if event is _NO_EVENT:
            return
        observe(event)
        yield event
        for event in inner:
            observe(event)
            yield event


async def _atraced(
    inner: AsyncGenerator[StreamEvent, None],
    instruments: _Instruments,
    settings: ClientSettings,
    request: AgentRequest,
) -> AsyncGenerator[StreamEvent, None]:
    call = _Call(instruments, settings, request, streaming=True)
    observe = call.observe
    with call:
        async with aclosing(inner):
            with call.current():
                event = await anext(inner, _NO_EVENT)
            if event is _NO_EVENT:
                return
            observe(event)
            yield event
            async for event in inner:
                observe(event)
                yield event


# -- one-shot calls ------------------------------------------------------------------------------
class _NoCall:
    """What :func:`traced_call` yields when nothing is recorded."""

    __slots__ = ()

    def response(self, response: AgentResponse) -> None:
        pass


_NO_CALL = _NoCall()


@contextmanager
def traced_call(
    settings: ClientSettings, request: AgentRequest
) -> Generator[_Call | _NoCall, None, None]:
    """A span around one one-shot call (``chat``/``achat``); the caller reports the response."""
    instruments = _instruments()
    if instruments is None:
        yield _NO_CALL
        return
    call = _Call(instruments, settings, request, streaming=False)
    with call.current(), call:
        yield call


# -- knowledge-base retrieval ----------------------------------------------------------------------
class _Retrieval:
    """One retrieval's span: the number of passages is reported by the caller."""

    __slots__ = ("_span",)

    def __init__(self, span: _Span | None) -> None:
        self._span = span

    def chunks(self, chunks: Sized) -> None:
        if self._span is not None:
            self._span.set("lyzr.retrieval.chunks", len(chunks))


@contextmanager
def traced_retrieval(
    settings: ClientSettings, rag_id: str, top_k: int | None
) -> Generator[_Retrieval, None, None]:
    """A span around one knowledge-base retrieval (``retrieve``/``aretrieve``)."""
    instruments = _instruments()
    if instruments is None:
        yield _Retrieval(None)
        return
    trace, _, context = _otel()
    metric_attrs = _operation_attrs("retrieval", settings, settings.rag_base_url)
    attrs = {**metric_attrs, "gen_ai.data_source.id": rag_id}
    if top_k is not None:
        attrs["lyzr.retrieval.top_k"] = top_k
    span = _Span(
        instruments.tracer,
        f"retrieval {rag_id}",
        settings.secrets,
        kind=trace.SpanKind.CLIENT,
        attributes=attrs,
    )
    started = time.monotonic()
    token = context.attach(trace.set_span_in_context(span.span))
    failure: BaseException | None = None
    try:
        yield _Retrieval(span)
    except BaseException as error:
        failure = error
        raise
    finally:
        context.detach(token)
        _end_operation(span, instruments, metric_attrs, started, settings.secrets, failure)


# -- background tasks ----------------------------------------------------------------------------
class _NoTask(_NoCall):
    """What :func:`traced_task` yields when nothing is recorded."""

    __slots__ = ()

    @contextmanager
    def current(self) -> Iterator[None]:
        yield

    def task(self, task_id: str) -> None:
        pass


class _Task(_Call):
    """A background task's invocation: one span from its creation to its answer."""

    __slots__ = ()

    def task(self, task_id: str) -> None:
        """The task is created: its id on the span (``lyzr.task.id``)."""
        self.span.set("lyzr.task.id", task_id)


_NO_TASK = _NoTask()


@contextmanager
def traced_task(
    settings: ClientSettings, request: AgentRequest
) -> Generator[_Task | _NoTask, None, None]:
    """A span around one background task run (``run_task``, ``task_updates``): the create
    request, every poll and the answer, reported by the caller (``response``). Current only
    where the caller says (``current()``, around each request), since the run spans the
    caller's own code between polls (a generator's yields)."""
    instruments = _instruments()
    if instruments is None:
        yield _NO_TASK
        return
    call = _Task(instruments, settings, request, streaming=False)
    with call:
        yield call


def note_retry(attempt: int, error: BaseException, delay: float) -> None:
    """A retry, as an event on the current span (the invocation's, while it is traced). The
    client hands this to the HTTP layer, which reports each retry upward through it."""
    api = _api
    if api:
        _guarded("adding a span event", _add_retry, api[0], attempt, error, delay)


def _add_retry(trace: Any, attempt: int, error: BaseException, delay: float) -> None:
    span = trace.get_current_span()
    if span.is_recording():  # the attributes are numbers and a type name: nothing to scrub
        span.add_event(
            "lyzr.retry",
            {"lyzr.attempt": attempt, "error.type": type(error).__name__, "lyzr.delay": delay},
        )
