"""OpenTelemetry: the spans and metrics of two agent calls, printed to the console.

Each call is one ``invoke_agent`` span (GenAI semantic conventions) with the agent id, the
session id as ``gen_ai.conversation.id``, the server, the message id and, for the stream, the
time to first chunk; the tools the agent ran on the server are ``execute_tool`` child spans.
Send them to a collector instead by swapping the console exporter for an OTLP one
(docs/tracing.md).

Run it: ``python examples/otel_console.py`` (needs ``opentelemetry-sdk``; offline against the
embedded emulator unless ``LYZR_API_KEY`` and ``LYZR_AGENT_ID`` are set).
"""

from __future__ import annotations

import os

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from langchain_lyzr_stream import ChatLyzr


def main() -> None:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=60_000)
    meter_provider = MeterProvider(metric_readers=[reader])
    metrics.set_meter_provider(meter_provider)

    emulator = None
    if os.environ.get("LYZR_API_KEY") and os.environ.get("LYZR_AGENT_ID"):
        model = ChatLyzr(agent_id=os.environ["LYZR_AGENT_ID"])
    else:
        from lyzr_stream.emulator import Emulator

        emulator = Emulator().start()
        model = ChatLyzr(agent_id="echo", api_key=emulator.api_key, base_url=emulator.base_url)
    try:
        with trace.get_tracer("my-app").start_as_current_span("answer two questions"):
            print("invoke:", model.invoke("What is Lyzr?").text)
            print("stream:", "".join(chunk.text for chunk in model.stream("And in short?")))
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()  # flushes the metrics to the console
        if emulator is not None:
            emulator.stop()


if __name__ == "__main__":
    main()
