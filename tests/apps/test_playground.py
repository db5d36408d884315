"""The browser playground (``lyzr-stream playground``): its HTTP API against the emulator, and
the page itself in a real headless Chromium.

The API tests check the SSE event format for both frameworks, tool activity, errors with their
partial text, sessions, variables, the stop path (a departed client closes the agent's stream),
the guards against other sites, and that the key is in no byte the server sends. The browser
test asks real questions and watches the page, a chat thread: Enter sends and Shift+Enter adds a
line, the box clears, a chip asks its question, the answer grows while it streams and ends as
markdown (code blocks, lists, links with http/https/mailto only) with a copy button, reasoning and
tool calls land in their places, Stop ends a long answer early, and agent text holding a
``<script>``, an ``onerror`` image or a ``javascript:`` link is shown as text and never run. It
takes the README's screenshot.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from lyzr_stream import InvalidRequestError
from lyzr_stream._apps.playground.app import MAX_BODY_BYTES, STATIC, allowed_host_names
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.agent_events import events_url_of
from lyzr_stream.emulator.agents import long_answer_tokens
from lyzr_stream.emulator.playground_agents import MARKUP_ANSWER, SHOWCASE_ANSWER
from lyzr_stream.playground import (
    ModelSettings,
    PlaygroundConfig,
    PlaygroundServer,
    create_app,
    encode_event,
)
from tests.conftest import FAKE_KEY
from tests.helpers.playground_browser import (
    browser_unavailable,
    capture_screenshot,
    headless_chromium,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "playground.png"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    # Its own key: a recognisable fake one, searched for in everything the playground serves.
    with Emulator(api_key=FAKE_KEY) as em:
        yield em


def _config(
    em: Emulator, framework: str = "langchain", dialect: str = "lyzr-v3", **headers: str
) -> PlaygroundConfig:
    settings = ModelSettings(
        framework=framework,
        dialect=dialect,
        api_key=SecretStr(em.api_key),
        base_url=em.base_url,
        default_headers=headers,
    )
    return PlaygroundConfig(agent_id="showcase", models=settings, emulator=True)


@pytest.fixture(scope="module")
def playground(emulator: Emulator) -> Iterator[PlaygroundServer]:
    """lyzr-v3 through ChatLyzr."""
    with PlaygroundServer(create_app(_config(emulator))) as server:
        yield server


@pytest.fixture(scope="module")
def tools_playground(emulator: Emulator) -> Iterator[PlaygroundServer]:
    """chat-messages (server-side tool activity) through LyzrLLM."""
    config = _config(emulator, "llamaindex", "chat-messages")
    with PlaygroundServer(create_app(config)) as server:
        yield server


def _ask(server: PlaygroundServer, **body: Any) -> tuple[list[dict[str, Any]], bytes]:
    """The events of one answer, and the raw body."""
    with httpx.stream("POST", server.url + "api/stream", json=body, timeout=30) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read()
    frames = raw.decode().split("\n\n")
    assert frames[-1] == "", "the body must end with a complete event"
    events = []
    for frame in frames[:-1]:
        assert frame.startswith("data: ") and "\n" not in frame, frame
        events.append(json.loads(frame[len("data: ") :]))
    return events, raw


def _text(events: list[dict[str, Any]], kind: str = "text") -> str:
    return "".join(e["text"] for e in events if e["type"] == kind)


# -- the API -------------------------------------------------------------------------------------
def test_encode_event_is_one_data_line() -> None:
    assert encode_event({"type": "text", "text": "a\nb</script>"}) == (
        b'data: {"type": "text", "text": "a\\nb</script>"}\n\n'
    )


def test_framework_events_become_pieces_and_unknown_kinds_reach_the_timeline() -> None:
    from langchain_core.messages import AIMessageChunk
    from langchain_core.messages.tool import tool_call_chunk

    from lyzr_stream._apps.playground.backends import (
        Activity,
        Delta,
        Final,
        _langchain_pieces,
        _llamaindex_pieces,
    )

    chunk = AIMessageChunk(
        content="Hi",
        additional_kwargs={"reasoning_content": "hmm"},
        tool_call_chunks=[tool_call_chunk(name="add", args='{"a": 1}', id="c1", index=0)],
    )
    assert _langchain_pieces({"event": "on_chat_model_stream", "data": {"chunk": chunk}}) == [
        Delta("reasoning", "hmm"),
        Delta("text", "Hi"),
        Activity("local_tool_call", "add", '{"a": 1}'),
    ]
    call = {"name": "search", "arguments": {"q": "x"}, "raw": {"secret": "not shown"}}
    event = {"event": "on_custom_event", "name": "lyzr_tool_call", "data": call}
    assert _langchain_pieces(event) == [Activity("tool_call", "search", {"arguments": {"q": "x"}})]
    agent = {"type": "kb_hit", "status": "completed", "level": None, "update": False, "raw": {}}
    event = {"event": "on_custom_event", "name": "lyzr_agent_event", "data": agent}
    assert _langchain_pieces(event) == [Activity("agent_event", "kb_hit", {"status": "completed"})]
    # A kind this version does not know is passed on under its own name.
    data = {"detail": 1}
    event = {"event": "on_custom_event", "name": "lyzr_new_kind", "data": data}
    assert _langchain_pieces(event) == [Activity("lyzr_new_kind", "lyzr_new_kind", data)]

    activity = {"phase": "result", "name": "search", "arguments": None, "result": {"hits": 2}}
    assert _llamaindex_pieces("", {"tool_activity": activity}) == [
        Activity("tool_result", "search", {"result": {"hits": 2}})
    ]
    assert _llamaindex_pieces("", {"thinking_delta": "hmm"}) == [Delta("reasoning", "hmm")]
    final = {"finish_reason": "stop", "session_id": "s", "tool_activity": [activity]}
    assert _llamaindex_pieces("", final) == [Final({"finish_reason": "stop", "session_id": "s"})]


def test_stream_events_reasoning_text_and_timing(playground: PlaygroundServer) -> None:
    events, _ = _ask(playground, agent_id="reasoning", message="why?")
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert set(kinds[1:-1]) == {"reasoning", "text"}
    assert _text(events, "reasoning") == "Let me think about it."
    assert _text(events) == "The answer is 42."
    start, done = events[0], events[-1]
    assert start["agent_id"] == "reasoning" and start["framework"] == "langchain"
    assert done["session_id"] == start["session_id"] and done["finish_reason"] == "stop"
    assert done["chunks"] == len(kinds) - 2
    assert 0 <= done["first_token_ms"] <= done["total_ms"]


@pytest.mark.parametrize("framework", ["langchain", "llamaindex"])
def test_server_side_tool_activity_is_on_the_timeline(emulator: Emulator, framework: str) -> None:
    with PlaygroundServer(create_app(_config(emulator, framework, "chat-messages"))) as server:
        events, _ = _ask(server, agent_id="tools", message="lyzr")
    timeline = [e for e in events if e["type"] == "timeline"]
    assert [(e["kind"], e["name"]) for e in timeline] == [
        ("tool_call", "search"),
        ("tool_result", "search"),
    ]
    assert timeline[0]["data"]["arguments"] == {"query": "lyzr"}
    assert timeline[1]["data"]["result"] == {"hits": 2, "top": "lyzr-stream docs"}
    assert _text(events) == "Found 2 results for lyzr."


@pytest.mark.parametrize("framework", ["langchain", "llamaindex"])
def test_agent_events_are_on_the_timeline(emulator: Emulator, framework: str) -> None:
    config = _config(emulator, framework)
    models = replace(config.models, agent_events=True, events_url=events_url_of(emulator.base_url))
    with PlaygroundServer(create_app(replace(config, models=models))) as server:
        events, _ = _ask(server, agent_id="server-tools-5", message="lyzr")
    assert events[-1]["type"] == "done"
    timeline = [(e["kind"], e["name"]) for e in events if e["type"] == "timeline"]
    kinds = {kind for kind, _ in timeline}
    assert {"agent_event", "tool_call", "tool_result"} <= kinds, timeline
    assert timeline[0] == ("agent_event", "process_start")  # in stream order
    agent_events = [e for e in events if e.get("kind") == "agent_event"]
    assert all(e["name"] and "raw" not in e["data"] for e in agent_events)
    assert "lyzr" in _text(events)


def test_an_agent_failure_keeps_the_partial_text(tools_playground: PlaygroundServer) -> None:
    events, _ = _ask(tools_playground, agent_id="fail-midway", message="go")
    error = events[-1]
    assert error["type"] == "error" and error["error"] == "AgentError"
    assert "Agent crashed midway" in error["message"]
    assert error["partial_text"] == _text(events) == "Partial answer"
    assert tools_playground.app.state.playground.runs[-1].outcome == "error"


def test_sessions_new_continue_and_refused(
    playground: PlaygroundServer, tools_playground: PlaygroundServer
) -> None:
    fresh = httpx.post(playground.url + "api/session", json={"agent_id": "memory"}).json()
    session = fresh["session_id"]
    assert session.startswith("memory-")
    _ask(playground, agent_id="memory", message="my name is Ada", session_id=session)
    events, _ = _ask(playground, agent_id="memory", message="who am I?", session_id=session)
    assert _text(events) == "Earlier you said: my name is Ada"
    kept = httpx.post(playground.url + "api/session", json={"session_id": session})
    assert kept.json() == {"session_id": session}
    # chat-messages needs a UUID: a typed id that cannot work is refused before any question.
    refused = httpx.post(tools_playground.url + "api/session", json={"session_id": "not-a-uuid"})
    assert refused.status_code == 400 and "uuid" in refused.json()["error"].lower()


def test_variables_reach_the_agent(playground: PlaygroundServer) -> None:
    events, _ = _ask(playground, agent_id="vars", message="x", variables={"name": "Ada"})
    assert 'system_prompt_variables={"name": "Ada"}' in _text(events)


@pytest.mark.parametrize(
    "body", [{}, {"message": 3}, {"message": "x", "variables": {"a": 1}}, {"message": "x" * 100001}]
)
def test_bad_questions_are_refused_by_name(playground: PlaygroundServer, body: Any) -> None:
    response = httpx.post(playground.url + "api/stream", json=body)
    assert response.status_code == 400
    assert any(word in response.json()["error"] for word in ("message", "variable"))


def test_a_departed_client_closes_the_agents_stream_even_while_it_is_silent(
    emulator: Emulator,
) -> None:
    # After 5 tokens the agent goes quiet for 4 s: the client leaves during the silence. Only
    # watching for the disconnect notices it then (a failed write would, 4 s later).
    quiet = {"x-emulator-fault": "stall-after:5:4"}
    with PlaygroundServer(create_app(_config(emulator, **quiet))) as server:
        state = server.app.state.playground
        body = {"agent_id": "long-50", "message": "go"}
        with httpx.stream("POST", server.url + "api/stream", json=body) as response:
            lines = (line for line in response.iter_lines() if line)
            start = json.loads(next(lines)[6:])
            received: list[dict[str, Any]] = []
            while not _text(received).endswith("w4"):  # however the tokens were coalesced
                received.append(json.loads(next(lines)[6:]))
        assert _text(received) == "w0 w1 w2 w3 w4"
        wait_for(lambda: state.runs[-1].outcome == "stopped", 3, "the run to be stopped")
        assert state.open_streams == 0
        # Closing the model's stream early makes the client ask the service to stop the agent.
        stopped = start["session_id"]
        wait_for(lambda: stopped in emulator.stop_requests, 5, "the service's stop route")
    # The emulator remembers an answer only once it has sent all of it: it never did.
    assert emulator.state.history(start["session_id"]) == (("user", "go"),)


def test_stopping_the_server_ends_open_answers_and_their_agent_streams(
    emulator: Emulator,
) -> None:
    slow = {"x-emulator-token-delay": "0.01"}  # 30 s for the whole answer
    server = PlaygroundServer(create_app(_config(emulator, **slow))).start()
    state = server.app.state.playground
    body = {"agent_id": "long-3000", "message": "go"}
    try:
        with httpx.stream("POST", server.url + "api/stream", json=body, timeout=30) as response:
            lines = (json.loads(line[6:]) for line in response.iter_lines() if line)
            events = [next(lines), next(lines)]
            server.stop()  # while the answer streams: it must not wait for the 30 s
            events += list(lines)
    finally:
        server.stop()
    assert [e["type"] for e in events[:2]] == ["start", "text"]
    assert events[-1]["type"] == "error" and events[-1]["error"] == "ServerStopped"
    assert state.runs[-1].outcome == "stopped" and state.open_streams == 0
    wait_for(lambda: events[0]["session_id"] in emulator.stop_requests, 5, "the stop route")


def test_other_sites_cannot_drive_the_agent(playground: PlaygroundServer) -> None:
    url = playground.url + "api/stream"
    port = playground.port
    foreign_host = httpx.get(playground.url, headers={"host": f"evil.example:{port}"})
    assert foreign_host.status_code == 403  # DNS rebinding
    form_post = httpx.post(url, content="message=hi", headers={"content-type": "text/plain"})
    assert form_post.status_code == 415  # a cross-site form could send this without preflight
    foreign = httpx.post(url, json={"message": "hi"}, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403
    same = httpx.post(
        playground.url + "api/session", json={}, headers={"origin": f"http://127.0.0.1:{port}"}
    )
    assert same.status_code == 200


def test_an_allow_list_names_the_remote_hosts_and_never_turns_the_check_off(
    emulator: Emulator,
) -> None:
    config = replace(_config(emulator), allowed_hosts=("Playground.Test", "192.168.7.7"))
    with PlaygroundServer(create_app(config)) as server:
        port = server.port

        def status(host: str) -> int:
            return httpx.get(server.url + "api/config", headers={"host": host}).status_code

        assert status(f"playground.test:{port}") == 200
        assert status(f"192.168.7.7:{port}") == 200
        assert status(f"127.0.0.1:{port}") == 200  # loopback names stay accepted
        refused = httpx.get(server.url + "api/config", headers={"host": f"evil.example:{port}"})
        assert refused.status_code == 403 and "--allow-remote" in refused.json()["error"]
        # A rebound page names its own host in the Host header: it cannot drive the agent.
        body = {"message": "hi"}
        rebound = httpx.post(
            server.url + "api/stream", json=body, headers={"host": f"rebind.evil.example:{port}"}
        )
        assert rebound.status_code == 403


@pytest.mark.parametrize(
    ("values", "names"),
    [
        (["a.example,B.example.", " [::1] "], ("a.example", "b.example", "[::1]")),
        (["fe80::1", "10.0.0.1", "a.example"], ("[fe80::1]", "10.0.0.1", "a.example")),
    ],
)
def test_allowed_host_names_are_normalised(values: list[str], names: tuple[str, ...]) -> None:
    assert allowed_host_names(values) == names


@pytest.mark.parametrize("value", ["*", "*.example.com", "host:8000", "http://host", "a,,b", ""])
def test_allowed_hosts_never_hold_a_wildcard_a_port_or_a_url(value: str) -> None:
    with pytest.raises(InvalidRequestError):
        allowed_host_names([value])


@pytest.mark.parametrize("path", ["api/session", "api/stream"])
def test_deeply_nested_json_is_a_400_not_a_500(playground: PlaygroundServer, path: str) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000  # 400 kB: under the size cap, far over the depth
    for body in (deep, b'{"message": ' + b"[" * 200_000):
        response = httpx.post(
            playground.url + path, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, response.text
        assert "nests deeper than" in response.json()["error"]
    # The server is fine afterwards.
    assert httpx.post(playground.url + "api/session", json={}).status_code == 200


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_cap_is_a_413(playground: PlaygroundServer, chunked: bool) -> None:
    big = b'{"message": "' + b"x" * MAX_BODY_BYTES + b'"}'
    content: Any = iter([big[i : i + 65536] for i in range(0, len(big), 65536)]) if chunked else big
    response = httpx.post(
        playground.url + "api/stream",
        content=content,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert f"larger than {MAX_BODY_BYTES} bytes" in response.json()["error"]


def test_not_json_and_not_an_object_are_named(playground: PlaygroundServer) -> None:
    for body, words in ((b"{nope", "not valid JSON"), (b"[1]", "must be a JSON object")):
        response = httpx.post(
            playground.url + "api/stream",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400 and words in response.json()["error"]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_evicted_models_are_closed(emulator: Emulator) -> None:
    # 60 agent ids through the API with the garbage collector off: the models pushed out of
    # the cache (8) must be closed by the playground, not left for a collection to find.
    # Before the fix this run grew by 2 descriptors per evicted model (its pooled connection
    # and the emulator's end of it; 300 ids: +464); now by the cached models' connections.
    with PlaygroundServer(create_app(_config(emulator))) as server:
        models = server.app.state.playground.backend._models
        gc.disable()
        try:
            before = _open_fds()
            with httpx.Client(timeout=30) as http:
                for index in range(60):
                    body = {"agent_id": f"echo-{index}", "message": "hi"}
                    response = http.post(server.url + "api/stream", json=body)
                    assert response.status_code == 200 and '"done"' in response.text
            wait_for(lambda: not models._closing, 10, "the evicted models to be closed")
            grown = _open_fds() - before
        finally:
            gc.enable()
        assert len(models) == 8
        assert grown <= 2 * 8 + 4, f"{grown} descriptors opened for 60 agent ids"


def test_a_model_evicted_mid_answer_is_closed_after_it(emulator: Emulator) -> None:
    slow = {"x-emulator-token-delay": "0.005"}
    with PlaygroundServer(create_app(_config(emulator, **slow))) as server:
        models = server.app.state.playground.backend._models
        body = {"agent_id": "long-200", "message": "go"}
        with httpx.stream("POST", server.url + "api/stream", json=body, timeout=30) as response:
            lines = (json.loads(line[6:]) for line in response.iter_lines() if line)
            events = [next(lines), next(lines)]
            for index in range(12):  # pushes long-200's model out while it streams
                agent = {"agent_id": f"echo-{index}"}
                assert httpx.post(server.url + "api/session", json=agent).status_code == 200
            events += list(lines)
        assert events[-1]["type"] == "done", events[-1]
        assert _text(events) == "".join(long_answer_tokens(200))
        wait_for(lambda: not models._in_use and not models._closing, 5, "the closing")


def test_messages_are_scrubbed_of_every_secret(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The key from the environment (not in the settings) and a header value: the one scrubber,
    # with the client's secrets.
    monkeypatch.setenv("LYZR_API_KEY", emulator.api_key)
    settings = ModelSettings(
        base_url=emulator.base_url, default_headers={"x-proxy": "hdr-secret-1"}
    )
    state = create_app(PlaygroundConfig("echo", settings)).state.playground
    said = state.redact(f"denied for {emulator.api_key} via hdr-secret-1")
    assert said == "denied for [redacted] via [redacted]"


def test_the_key_is_in_no_byte_served(emulator: Emulator, playground: PlaygroundServer) -> None:
    served = [
        httpx.get(playground.url + path).content
        for path in ("", "static/playground.js", "static/playground.css", "api/config")
    ]
    served.append(httpx.post(playground.url + "api/session", json={}).content)
    for agent in ("reasoning", "fail-midway", "markup", "artifacts"):
        served.append(_ask(playground, agent_id=agent, message=FAKE_KEY[:6])[1])
    # An error path: the service refuses a wrong key; the message must not carry either key.
    wrong = ModelSettings(api_key=SecretStr(FAKE_KEY + "-wrong"), base_url=emulator.base_url)
    with PlaygroundServer(create_app(PlaygroundConfig("echo", wrong))) as other:
        events, raw = _ask(other, message="hi")
    assert events[-1]["error"] == "AuthenticationError"
    served.append(raw)
    everything = b"".join(served)
    assert FAKE_KEY.encode() not in everything
    assert FAKE_KEY[6:].encode() not in everything


def test_agent_text_is_relayed_verbatim_and_only_rendered_as_text(
    playground: PlaygroundServer,
) -> None:
    events, _ = _ask(playground, agent_id="markup", message="x")
    assert _text(events) == MARKUP_ANSWER  # the server does not rewrite it: the page escapes
    script = (STATIC / "playground.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, f"the page must not use {sink}"
    page = httpx.get(playground.url)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


# A missing extra: tests/package/test_missing_extras.py (a subprocess without starlette).


def test_cli_serves_the_page_and_refuses_a_remote_host() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYZR_")}
    command = [sys.executable, "-m", "lyzr_stream", "playground", "--emulator"]
    refused = subprocess.run(
        [*command, "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2 and "--allow-remote HOST[,HOST...]" in refused.stderr
    port = _free_port()
    allowed = ["--allow-remote", "playground.test"]
    server = subprocess.Popen(
        [*command, "--dialect", "chat-messages", "--port", str(port), *allowed],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert f"http://127.0.0.1:{port}/" in server.stdout.readline()
        config = wait_for(lambda: _get_json(f"http://127.0.0.1:{port}/api/config"), 30, "serve")
        assert config["dialect"] == "chat-messages" and config["emulator"] is True
        assert {"showcase", "markup", "tools", "reasoning"} <= set(config["agents"])
        url = f"http://127.0.0.1:{port}/api/config"
        assert httpx.get(url, headers={"host": f"playground.test:{port}"}).status_code == 200
        assert httpx.get(url, headers={"host": f"evil.example:{port}"}).status_code == 403
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stdout is not None
        server.stdout.close()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--host", "0.0.0.0"], "--allow-remote HOST[,HOST...]"),
        (["--host", "0.0.0.0", "--allow-remote"], "expected one argument"),
        (["--host", "0.0.0.0", "--allow-remote", "*"], "wildcard"),
        (["--allow-remote", "host:8000"], "without a port"),
    ],
)
def test_cli_allow_remote_needs_explicit_hosts(
    extra: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from lyzr_stream._apps.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["playground", "--emulator", *extra])
    assert exited.value.code == 2
    assert words in capsys.readouterr().err


def test_cli_help_documents_the_allow_list(capsys: pytest.CaptureFixture[str]) -> None:
    from lyzr_stream._apps.cli import main

    with pytest.raises(SystemExit):
        main(["playground", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--allow-remote HOST[,HOST...]" in help_text
    assert "the Host check is never off" in help_text


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get_json(url: str) -> Any:
    try:
        return httpx.get(url).json()
    except httpx.TransportError:
        return None


# -- the page in a real browser --------------------------------------------------------------------
#: Typed into the page for the echo agent, which answers "You said: <question>".
MARKDOWN_QUESTION = (
    "Here is markdown:",
    "```python",
    "print('<b>hi</b>')",
    "```",
    "- one **bold**",
    "- two *slanted* with `code`",
    "1. first",
    "2. second [docs](https://example.com/docs) and [mail](mailto:a@example.com)",
)
#: Each would run script (or fetch) if the page rendered agent text as HTML or kept any link.
INJECTION_QUESTION = (
    "<script>window.__pwned=1</script>",
    "<img src=x onerror=window.__pwned=1>",
    "[x](javascript:window.__pwned=1) [y](JaVaScRiPt:window.__pwned=1)",
    "[z](data:text/html,<b>) [w](vbscript:msgbox) [rel](/api/config)",
)
SAFE_LINK = "return [...document.querySelectorAll('#thread a')].map((a) => a.href)"


def _turns(driver: Any) -> int:
    return int(driver.execute_script("return document.querySelectorAll('#thread .turn').length"))


def _last(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, f"#thread .turn:last-child {selector}")[0]


def _answer(driver: Any) -> str:
    """The text of the last answer in the thread ('' before the first)."""
    script = "const a = document.querySelector('#thread .turn:last-child .answer'); "
    return str(driver.execute_script(script + "return a ? a.textContent : ''"))


def _status(driver: Any) -> str:
    return str(driver.execute_script("return document.body.dataset.status || ''"))


def _type_question(driver: Any, question: str) -> Any:
    """Type ``question`` into the box, a new line being Shift+Enter; the box is returned."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, "question")
    for index, line in enumerate(question.split("\n")):
        if index:
            box.send_keys(Keys.SHIFT, Keys.ENTER)  # the modifier is let go after each call
        box.send_keys(line)
    return box


def _ask_in_page(driver: Any, agent: str, question: str) -> None:
    """Ask as a user does: the agent field, the question typed, then Enter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element(By.ID, "agent-id")
    if field.get_attribute("value") != agent:
        field.clear()
        field.send_keys(agent)
    box = _type_question(driver, question)
    assert box.get_attribute("value") == question  # Shift+Enter made new lines, sent nothing
    turns = _turns(driver)
    box.send_keys(Keys.ENTER)
    wait_for(lambda: _turns(driver) in (turns + 1, 1), 5, "Enter to send the question")
    assert box.get_attribute("value") == "", "the box clears after asking"
    assert driver.execute_script("return document.activeElement.id") == "question"


def test_the_page_in_a_headless_browser(emulator: Emulator) -> None:
    reason = browser_unavailable()
    if reason is not None:
        pytest.skip(f"no browser: {reason}")
    with headless_chromium() as driver:
        _page_on_chat_messages(driver, emulator)
        _markdown_and_injection(driver, emulator)
        _page_on_lyzr_v3(driver, emulator)


#: The page's markdown renderer: source -> the DOM it builds (serialised by the test, in the
#: browser). Tags in the text stay text, links keep http/https/mailto only.
RENDERED = [
    (
        "a *b* **c** `d` snake_case_name",
        "<p>a <em>b</em> <strong>c</strong> <code>d</code> snake_case_name</p>",
    ),
    ("```\nunclosed\n<b>x</b>", "<pre><code>unclosed\n&lt;b&gt;x&lt;/b&gt;</code></pre>"),
    (
        "**bold [link](https://e.com/a_(b))**",
        '<p><strong>bold <a href="https://e.com/a_(b)" rel="noopener noreferrer nofollow" '
        'target="_blank">link</a></strong></p>',
    ),
    (
        "# Title\n### Small\n> quoted *x*\n> more\n\n---\n3. three\n4. four",
        "<h3>Title</h3><h5>Small</h5><blockquote><p>quoted <em>x</em><br>more</p></blockquote>"
        '<hr><ol start="3"><li>three</li><li>four</li></ol>',
    ),
    ("line one\nline two\n\n&lt;b&gt;", "<p>line one<br>line two</p><p>&amp;lt;b&amp;gt;</p>"),
    ("- a\n  continued\n- b\n\ntext", "<ul><li>a<br>continued</li><li>b</li></ul><p>text</p>"),
    ("``code with ` tick`` and ** no **", "<p><code>code with ` tick</code> and ** no **</p>"),
    (
        "[j](javascript:alert(1)) [d](data:text/html,x) [r](/api/config) [n]([m](https://e.com))",
        "<p>[j](javascript:alert(1)) [d](data:text/html,x) [r](/api/config) "
        "[n]([m](https://e.com))</p>",
    ),
    (
        '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>',
        '<p>&lt;img src=x onerror="window.__pwned=1"&gt;&lt;script&gt;window.__pwned=1'
        "&lt;/script&gt;</p>",
    ),
]


def test_the_markdown_renderer_in_a_headless_browser(playground: PlaygroundServer) -> None:
    reason = browser_unavailable()
    if reason is not None:
        pytest.skip(f"no browser: {reason}")
    serialise = (
        "const box = document.createElement('div');"
        "box.append(renderMarkdown(arguments[0])); return box.innerHTML"
    )
    with headless_chromium() as driver:
        driver.get(playground.url)
        wait_for(lambda: _status(driver) == "ready", 10, "the page to load")
        rendered = [driver.execute_script(serialise, source) for source, _ in RENDERED]
        assert driver.execute_script("return window.__pwned === undefined")
    assert rendered == [html for _, html in RENDERED]


def _page_on_chat_messages(driver: Any, emulator: Emulator) -> None:
    """chat-messages reports server-side tools: a chip asks, the answer streams into the
    thread with reasoning and the timeline; markup stays text; errors keep the partial text."""
    from selenium.webdriver.common.by import By

    with PlaygroundServer(create_app(_config(emulator, "langchain", "chat-messages"))) as server:
        state = server.app.state.playground
        driver.get(server.url)
        wait_for(lambda: _status(driver) == "ready", 10, "the page to load")

        # 0. An empty, labelled box with a placeholder; suggested questions as chips.
        box = driver.find_element(By.ID, "question")
        assert box.get_attribute("value") == ""
        assert "Enter sends" in box.get_attribute("placeholder")
        label = driver.execute_script("return document.getElementById('question').labels[0]")
        assert label.get_attribute("textContent") == "Question"
        chips = driver.find_elements(By.CSS_SELECTOR, "#suggestions .chip")
        assert len(chips) >= 3 and all(c.tag_name == "button" for c in chips)
        assert driver.find_element(By.ID, "thread").get_attribute("role") == "log"

        # 1. A chip asks its question; the answer grows in the thread while it streams.
        chips[0].click()
        lengths = []
        while _status(driver) in ("ready", "streaming"):
            lengths.append(len(_answer(driver)))
            time.sleep(0.03)
        assert _status(driver) == "done", _last(driver, ".error").text
        assert _turns(driver) == 1
        assert _last(driver, ".question .text").text == chips[0].get_attribute("textContent")
        assert not driver.find_element(By.ID, "suggestions").is_displayed()
        assert _answer(driver) == SHOWCASE_ANSWER
        growth = sorted(set(lengths) - {0, len(SHOWCASE_ANSWER)})
        assert len(growth) >= 5, f"the answer did not grow while streaming: {lengths}"
        assert lengths == sorted(lengths), "the answer must only grow"
        reasoning = _last(driver, ".reasoning-block")
        assert reasoning.is_displayed() and reasoning.tag_name == "details"
        assert _last(driver, ".reasoning").text == (
            "The user asks about memory; search the docs first."
        )
        assert "search the docs" not in _answer(driver)
        summary = reasoning.find_element(By.TAG_NAME, "summary")
        summary.click()  # it folds away, and back
        assert not _last(driver, ".reasoning").is_displayed()
        summary.click()
        assert _last(driver, ".reasoning").is_displayed()
        assert (
            driver.find_element(By.CSS_SELECTOR, "#thread .turn").get_attribute("aria-busy")
            == "false"
        )
        items = driver.find_elements(By.CSS_SELECTOR, "#timeline li")
        kinds = [(i.get_attribute("data-kind"), _name_in(i)) for i in items]
        assert kinds == [("tool_call", "search_docs"), ("tool_result", "search_docs")]
        assert "Sessions and variables" in items[1].text
        assert driver.find_element(By.ID, "first-token").text.endswith("ms")
        assert int(driver.find_element(By.ID, "chunks").text) >= 20
        session = driver.find_element(By.ID, "session-id").get_attribute("value")
        assert session == state.runs[-1].session_id

        # 2. Agent text holding a <script> (and an onerror handler) is shown, not run.
        _ask_in_page(driver, "markup", "Show me some markup")
        wait_for(lambda: _status(driver) == "done", 10, "the markup answer")
        assert _answer(driver) == MARKUP_ANSWER
        assert _last(driver, ".answer").text == MARKUP_ANSWER  # visible as text
        _assert_inert(driver)
        assert driver.execute_script("return window.__lyzrInjected === undefined")

        # 3. An agent failure: the error is shown and the text received before it is kept.
        _ask_in_page(driver, "fail-midway", "Try")
        wait_for(lambda: _status(driver) == "error", 5, "the error")
        error = _last(driver, ".error").text
        assert error.startswith("AgentError: ") and "Agent crashed midway" in error
        assert "14 characters received before it are kept" in error
        assert _answer(driver) == "Partial answer"


def _assert_inert(driver: Any) -> None:
    """Nothing in the thread can run script: no script, image, frame, handler or odd link."""
    found = driver.execute_script(
        "const t = document.getElementById('thread');"
        "return [...t.querySelectorAll('*')].filter((n) =>"
        " ['SCRIPT', 'IMG', 'IFRAME', 'OBJECT', 'EMBED', 'STYLE', 'B'].includes(n.tagName)"
        " || [...n.attributes].some((a) => a.name.startsWith('on'))).map((n) => n.outerHTML)"
    )
    assert found == []
    for href in driver.execute_script(SAFE_LINK):
        assert href.split(":")[0] in ("http", "https", "mailto"), href
    assert len(driver.find_elements("tag name", "script")) == 1  # the page's own


def _markdown_and_injection(driver: Any, emulator: Emulator) -> None:
    """The echo agent answers with the question: markdown typed over several lines (Shift+Enter)
    renders in the thread, and a script, an image with onerror and javascript: links stay text."""
    from selenium.webdriver.common.by import By

    with PlaygroundServer(create_app(_config(emulator))) as server:
        driver.get(server.url)
        wait_for(lambda: _status(driver) == "ready", 10, "the page to load")
        question = "\n".join(MARKDOWN_QUESTION)
        _ask_in_page(driver, "echo", question)
        wait_for(lambda: _status(driver) == "done", 10, "the markdown answer")
        answer = _last(driver, ".answer")
        assert _last(driver, ".question .text").text == question
        code = answer.find_element(By.CSS_SELECTOR, "pre > code")
        assert code.get_attribute("textContent") == "print('<b>hi</b>')"
        assert code.get_attribute("data-language") == "python"
        bullets = answer.find_elements(By.CSS_SELECTOR, "ul > li")
        assert [b.text for b in bullets] == ["one bold", "two slanted with code"]
        assert bullets[0].find_element(By.TAG_NAME, "strong").text == "bold"
        assert bullets[1].find_element(By.TAG_NAME, "em").text == "slanted"
        assert bullets[1].find_element(By.TAG_NAME, "code").text == "code"
        numbered = answer.find_elements(By.CSS_SELECTOR, "ol > li")
        assert [n.text for n in numbered] == ["first", "second docs and mail"]
        links = answer.find_elements(By.TAG_NAME, "a")
        assert [(a.text, a.get_attribute("href")) for a in links] == [
            ("docs", "https://example.com/docs"),
            ("mail", "mailto:a@example.com"),
        ]
        assert all(a.get_attribute("rel") == "noopener noreferrer nofollow" for a in links)
        _assert_inert(driver)  # the <b> inside the code block is text too

        # The copy button puts the answer's markdown on the clipboard.
        origin = server.url.rstrip("/")
        driver.execute_cdp_cmd(
            "Browser.grantPermissions",
            {"origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
        )
        copy = _last(driver, ".copy")
        assert copy.get_attribute("aria-label")
        copy.click()
        wait_for(lambda: copy.text != "Copy", 3, "the copy button to answer")
        assert copy.text == "Copied"
        pasted = driver.execute_async_script(
            "navigator.clipboard.readText().then(arguments[0], (e) => arguments[0](String(e)))"
        )
        assert pasted == "You said: " + question

        # The thread grows; hostile text is shown as text and never runs, even when clicked.
        hostile = "\n".join(INJECTION_QUESTION)
        _ask_in_page(driver, "echo", hostile)
        wait_for(lambda: _status(driver) == "done", 10, "the hostile answer")
        assert _turns(driver) == 2
        assert [
            q.text for q in driver.find_elements(By.CSS_SELECTOR, "#thread .question .text")
        ] == [
            question,
            hostile,
        ]
        assert _last(driver, ".answer").text == "You said: " + hostile
        assert _last(driver, ".answer").find_elements(By.TAG_NAME, "a") == []
        _assert_inert(driver)
        for paragraph in _last(driver, ".answer").find_elements(By.TAG_NAME, "p"):
            paragraph.click()  # where the javascript: link would have been
        assert driver.current_url == server.url
        assert driver.execute_script("return window.__pwned === undefined")


def _page_on_lyzr_v3(driver: Any, emulator: Emulator) -> None:
    """lyzr-v3 carries variables and has a stop route: variable rows, new and continued
    sessions, and Stop."""
    from selenium.webdriver.common.by import By

    # Agents without their own pace get 10 ms per token: a long answer is still streaming when
    # Stop is pressed. The events channel is on, for the server-tools agent.
    slow = {"x-emulator-token-delay": "0.01"}
    config = _config(emulator, **slow)
    events_url = events_url_of(emulator.base_url)
    models = replace(config.models, agent_events=True, events_url=events_url)
    with PlaygroundServer(create_app(replace(config, models=models))) as server:
        state = server.app.state.playground
        driver.get(server.url)
        wait_for(lambda: _status(driver) == "ready", 10, "the page to load")
        driver.find_element(By.CSS_SELECTOR, ".variable-name").send_keys("name")
        driver.find_element(By.CSS_SELECTOR, ".variable-value").send_keys("Ada")
        _ask_in_page(driver, "vars", "Which variables?")
        wait_for(lambda: _status(driver) == "done", 5, "the vars answer")
        assert 'system_prompt_variables={"name": "Ada"}' in _answer(driver)

        _ask_in_page(driver, "memory", "My name is Ada")
        wait_for(lambda: _status(driver) == "done", 5, "the first memory answer")
        first_session = _session(driver)
        driver.find_element(By.ID, "new-session").click()
        wait_for(lambda: _session(driver) not in ("", first_session), 5, "a new session id")
        assert _turns(driver) == 0  # a new session starts a new thread
        session_field = driver.find_element(By.ID, "session-id")
        session_field.clear()
        session_field.send_keys(first_session)
        driver.find_element(By.ID, "continue-session").click()
        wait_for(lambda: "Continuing" in _text_of(driver, "session-status"), 5, "continue")
        _ask_in_page(driver, "memory", "Who am I?")
        wait_for(lambda: _status(driver) == "done", 5, "the second memory answer")
        assert _answer(driver) == "Earlier you said: My name is Ada"
        assert _session(driver) == first_session

        # The agent's events channel: its progress joins the tool calls on the timeline, an
        # entry re-reported with changes replacing the earlier one.
        _ask_in_page(driver, "server-tools-5", "Research lyzr")
        wait_for(lambda: _status(driver) == "done", 10, "the server-tools answer")
        items = driver.find_elements(By.CSS_SELECTOR, "#timeline li")
        kinds = {item.get_attribute("data-kind") for item in items}
        assert {"agent_event", "tool_call", "tool_result"} <= kinds
        log_ids = [i.get_attribute("data-log-id") for i in items if i.get_attribute("data-log-id")]
        assert log_ids and len(log_ids) == len(set(log_ids))

        # Stop ends a long answer early; the server closes the agent's stream, and the client
        # then asks the service to stop the agent (Lyzr v3's stop route).
        _ask_in_page(driver, "long-3000", "Go on for a while")
        wait_for(lambda: len(_answer(driver)) > 100, 10, "the long answer to start")
        stop = driver.find_element(By.ID, "stop")
        assert stop.is_enabled()
        # Clicked in the page: the streaming answer grows the thread above the form, so the
        # button moves while WebDriver aims a pointer click at it (a click that lands on the
        # thread instead was a rare failure under load).
        driver.execute_script("arguments[0].click();", stop)
        wait_for(lambda: _status(driver) == "stopped", 5, "the page to stop")
        stopped_at = _answer(driver)
        wait_for(lambda: state.runs[-1].outcome == "stopped", 5, "the server to close the stream")
        assert state.open_streams == 0
        stopped_session = state.runs[-1].session_id
        wait_for(lambda: stopped_session in emulator.stop_requests, 5, "the service's stop route")
        assert _answer(driver) == stopped_at, "text arrived after Stop"
        assert 100 < len(stopped_at) < len(" w".join(str(i) for i in range(3000))) // 2

        # The README's screenshot: a thread with a markdown answer (code block, list).
        _check_screenshot(driver, emulator)


def _check_screenshot(driver: Any, emulator: Emulator) -> None:
    """The README's screenshot, as ``python -m tests.helpers.playground_browser`` takes it.
    Taken on every run; written to docs/ when missing or asked for
    (``LYZR_UPDATE_SCREENSHOT=1``), so test runs do not leave a changed binary in the tree."""
    from selenium.webdriver.common.by import By

    with PlaygroundServer(create_app(_config(emulator, "langchain", "chat-messages"))) as server:
        png = capture_screenshot(driver, server.url)
        answer = _last(driver, ".answer") if _turns(driver) else None
        first = driver.find_elements(By.CSS_SELECTOR, "#thread .turn .answer")[0]
        assert first.find_elements(By.CSS_SELECTOR, "pre > code")
        assert len(first.find_elements(By.CSS_SELECTOR, "ul > li")) == 3
        assert answer is not None and answer.find_elements(By.TAG_NAME, "a")
    assert png.startswith(b"\x89PNG") and 10_000 < len(png) < 200_000
    if os.environ.get("LYZR_UPDATE_SCREENSHOT") == "1" or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(png)


def _name_in(item: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(item.find_element(By.CLASS_NAME, "name").text)


def _session(driver: Any) -> str:
    return str(driver.execute_script("return document.getElementById('session-id').value"))


def _text_of(driver: Any, element_id: str) -> str:
    script = f"return document.getElementById('{element_id}').textContent"
    return str(driver.execute_script(script))
