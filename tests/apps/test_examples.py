"""Every example runs, offline, as a user would run it (a subprocess against the emulator)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lyzr_stream.emulator import DEMO_ANSWER

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _offline_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LYZR_")}


def _run(name: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        env=_offline_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("demo.py", ["LangChain  ChatLyzr.stream()", DEMO_ANSWER, "chat-messages"]),
        ("lcel_chain.py", [DEMO_ANSWER]),
        ("langgraph_graph.py", ["This is the start of our conversation.", "My name is Ada."]),
        (
            "langgraph_agent_events.py",
            [
                '[tool call] web_search({"query": "lyzr-stream"})',
                "[tool result] Researcher -> ",
                "agent> Here is what I found about lyzr-stream",
                "[kb_documents_retrieved (completed)] Retrieved 2 documents",
                "[agent_process_end (completed)] Agent finished",
            ],
        ),
        ("langchain_agent_tool.py", ["[tool add returned 42]", "add returned 42."]),
        ("llamaindex_rag.py", ["Where is conversation memory kept?"]),
        # -- knowledge bases --
        (
            "langchain_rag_lyzr_kb.py",
            ["retrieved 0.67 hours.pdf",
             "- On weekends Lyzr Cafe opens at 10 am and closes at 4 pm. [hours.pdf]",
             "Question: When does the cafe open on weekends?"],
        ),
        (
            "llamaindex_lyzr_kb.py",
            ["retrieved 0.50 policies.pdf", "source: policies.pdf",
             "Refunds are accepted within 30 days of purchase with a receipt.",
             "Query: How do refunds work?"],
        ),
        ("llamaindex_function_agent.py", ["[tool multiply", "multiply returned 42."]),
        (
            "otel_console.py",
            ["invoke: You said: What is Lyzr?", '"name": "invoke_agent"',
             '"gen_ai.conversation.id"', '"name": "gen_ai.client.operation.time_to_first_chunk"'],
        ),
        ("sessions_and_variables.py", ['"language": "French"', '"name": "Ada"', "1234"]),
        (
            "files_and_memory.py",
            ["files: I received 2 file(s): image-1.png (image/png", "q3.pdf (application/pdf",
             "  assistant: Earlier you said: My name is Ada.", "after clear: 0 turns"],
        ),
        (
            "error_handling.py",
            [
                "interrupted; partial_text=",
                "(3 tries)",
                "timeout kind=read",
                "NotFoundError 404",
                "caught as LyzrError: BadRequestError",
            ],
        ),
    ],
)
def test_example(name: str, expected: list[str]) -> None:
    out = _run(name)
    for text in expected:
        assert text in out, f"{name}: {text!r} not in output:\n{out}"


def test_sessions_example_keeps_sessions_apart() -> None:
    out = _run("sessions_and_variables.py")
    other = next(line for line in out.splitlines() if line.startswith("other session:"))
    assert "1234" not in other


def test_sse_relay_server_streams_to_a_browser() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "sse_relay_server.py"), "--port", str(port)],
        env=_offline_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(base + "/")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the relay server did not start"
                time.sleep(0.1)
        assert "EventSource" in page.text
        events = []
        with httpx.stream("GET", base + "/ask", params={"q": "hi", "session": "s1"}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
        assert len(events) > 2, "the answer was not relayed token by token"
        assert "".join(e["text"] for e in events if e["type"] == "text") == DEMO_ANSWER
        assert events[-1] == {"type": "done", "session_id": "s1"}
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stdout is not None
        server.stdout.close()
