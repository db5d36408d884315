"""The API key never gets out: every channel a key could leak through, with a recognisable key.

Channels: repr/str, log lines (every logger, DEBUG), exceptions and their tracebacks, LangChain
``dumpd``/``dumps``, LlamaIndex ``to_dict``/``to_json``, pickles, the runs a LangSmith-style
tracer records. Also: no redirects followed with the key, TLS verification on by default, plain
http to a remote host refused, path parameters encoded.
"""

from __future__ import annotations

import json
import logging
import pickle
import ssl
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.load import dumpd, dumps
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run
from pydantic import SecretStr

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import (
    AgentRequest,
    APIStatusError,
    AuthenticationError,
    InvalidRequestError,
    LyzrClient,
    LyzrError,
)
from lyzr_stream._http.send import redact_headers
from lyzr_stream.emulator import Emulator
from tests.conftest import FAKE_KEY


@pytest.fixture(scope="module")
def keyed_emulator() -> Iterator[Emulator]:
    """An emulator whose accepted key is the recognisable fake key."""
    with Emulator(api_key=FAKE_KEY) as em:
        yield em


def _all_surfaces(em: Emulator) -> list[Any]:
    kwargs = {"api_key": FAKE_KEY, "base_url": em.base_url}
    return [
        LyzrClient(**kwargs),
        ChatLyzr(agent_id="echo", **kwargs),
        LyzrLLM(agent_id="echo", **kwargs),
    ]


def _assert_clean(text: str | bytes, channel: str) -> None:
    needle: str | bytes = FAKE_KEY.encode() if isinstance(text, bytes) else FAKE_KEY
    assert needle not in text, f"the API key leaked through {channel}"  # type: ignore[operator]


def test_repr_and_str(keyed_emulator: Emulator) -> None:
    for surface in _all_surfaces(keyed_emulator):
        _assert_clean(repr(surface), f"repr({type(surface).__name__})")
        _assert_clean(str(surface), f"str({type(surface).__name__})")
    client = LyzrClient(api_key=FAKE_KEY, base_url=keyed_emulator.base_url)
    _assert_clean(repr(client.settings), "repr(settings)")


def test_log_lines_at_debug_level(
    keyed_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx, httpcore, langchain
    model, llm = _all_surfaces(keyed_emulator)[1:]
    assert model.invoke("hi").text == "You said: hi"
    assert "".join(c.text for c in model.stream("hi")) == "You said: hi"
    assert llm.complete("hi").text == "You said: hi"
    wrong = ChatLyzr(agent_id="echo", api_key="x" + FAKE_KEY, base_url=keyed_emulator.base_url)
    with pytest.raises(AuthenticationError):
        wrong.invoke("hi")
    assert any("lyzr_stream" in r.name for r in caplog.records), "nothing was logged"
    assert "[redacted]" in caplog.text, "the request log line lost its redacted headers"
    _assert_clean(caplog.text, "log records")


def test_redaction_rule() -> None:
    headers = {
        "x-api-key": FAKE_KEY,
        "Authorization": f"Bearer {FAKE_KEY}",
        "Cookie": f"session={FAKE_KEY}",
        "X-Custom-Token": FAKE_KEY,
        "content-type": "application/json",
    }
    redacted = redact_headers(headers)
    _assert_clean(json.dumps(redacted), "redact_headers")
    assert redacted["content-type"] == "application/json"


def test_exceptions_and_tracebacks(keyed_emulator: Emulator) -> None:
    errors: list[LyzrError] = []
    # The service rejects a key (wrong key sent): the error must not echo what was sent.
    for sent in ("x" + FAKE_KEY, FAKE_KEY):
        client = LyzrClient(
            api_key=sent,
            base_url=keyed_emulator.base_url,
            default_headers={"x-emulator-fault": "status:401"},
        )
        for call in (client.chat, lambda r, c=client: c.stream(r).until_done()):
            with pytest.raises(AuthenticationError) as info:
                call(AgentRequest(agent_id="echo", message="hi"))
            errors.append(info.value)
    for error in errors:
        text = "".join(traceback.format_exception(error))
        for channel in (str(error), repr(error), text, str(error.body)):
            _assert_clean(channel, "an exception")
        _assert_clean(pickle.dumps(error), "a pickled exception")


def test_langchain_serialization(keyed_emulator: Emulator) -> None:
    model = ChatLyzr(agent_id="echo", api_key=FAKE_KEY, base_url=keyed_emulator.base_url)
    _assert_clean(dumps(model), "dumps")
    _assert_clean(json.dumps(dumpd(model)), "dumpd")
    _assert_clean(model.model_dump_json(), "model_dump_json")
    _assert_clean(json.dumps(model.model_dump(), default=str), "model_dump")
    assert "LYZR_API_KEY" in dumps(model), "the secret should be referenced by its env name"


def test_llamaindex_serialization(keyed_emulator: Emulator) -> None:
    llm = LyzrLLM(agent_id="echo", api_key=FAKE_KEY, base_url=keyed_emulator.base_url)
    _assert_clean(llm.to_json(), "to_json")
    _assert_clean(json.dumps(llm.to_dict(), default=str), "to_dict")
    _assert_clean(llm.model_dump_json(), "model_dump_json")


def test_pickles(keyed_emulator: Emulator) -> None:
    for surface in _all_surfaces(keyed_emulator)[1:]:
        _assert_clean(pickle.dumps(surface), f"pickle({type(surface).__name__})")


class _Recorder(BaseTracer):
    """Records finished runs the way LangSmith's tracer receives them."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        self.runs.append(run)


def _flatten(run: Run) -> Iterator[Run]:
    yield run
    for child in run.child_runs:
        yield from _flatten(child)


def test_traced_runs(keyed_emulator: Emulator) -> None:
    model = ChatLyzr(agent_id="echo", api_key=FAKE_KEY, base_url=keyed_emulator.base_url)
    recorder = _Recorder()
    config: Any = {"callbacks": [recorder], "configurable": {"session_id": "traced"}}
    model.invoke("hi", config=config)
    list(model.stream("hi", config=config))
    (model | (lambda m: m.text)).invoke("hi", config=config)
    runs = [r for root in recorder.runs for r in _flatten(root)]
    assert len(runs) >= 4
    for run in runs:
        _assert_clean(run.model_dump_json(), f"the traced run {run.name}")
    llm_runs = [r for r in runs if r.run_type == "llm"]
    assert llm_runs and all(r.serialized for r in llm_runs), "the tracer saw no serialized model"


# -- transport rules -------------------------------------------------------------------------------
def test_redirects_are_not_followed(keyed_emulator: Emulator) -> None:
    keyed_emulator.reset()
    client = LyzrClient(
        api_key=FAKE_KEY,
        base_url=keyed_emulator.base_url,
        default_headers={"x-emulator-fault": "redirect:307"},
    )
    for call in (client.chat, lambda r: client.stream(r).until_done()):
        with pytest.raises(APIStatusError, match="redirect") as info:
            call(AgentRequest(agent_id="echo", message="hi"))
        assert info.value.status_code == 307
    assert len(keyed_emulator.requests) == 2, "a redirect was followed"


def test_tls_verification_is_on_by_default() -> None:
    client = LyzrClient(api_key=FAKE_KEY)
    pool = client._sync_http()._transport._pool  # type: ignore[attr-defined]
    context: ssl.SSLContext = pool._ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_plain_http_to_a_remote_host_is_refused_everywhere() -> None:
    for build in (
        lambda: LyzrClient(api_key=FAKE_KEY, base_url="http://agents.example.com"),
        lambda: ChatLyzr(agent_id="a", api_key=FAKE_KEY, base_url="http://agents.example.com"),
        lambda: LyzrLLM(agent_id="a", api_key=FAKE_KEY, base_url="http://agents.example.com"),
    ):
        with pytest.raises(InvalidRequestError, match="allow_insecure_http") as info:
            build()
        _assert_clean(str(info.value), "the refusal message")
    opted_in = LyzrClient(
        api_key=FAKE_KEY, base_url="http://agents.example.com", allow_insecure_http=True
    )
    assert opted_in.settings.base_url == "http://agents.example.com"


def test_path_parameters_are_encoded(keyed_emulator: Emulator) -> None:
    from lyzr_stream.dialects import get_dialect
    from lyzr_stream.dialects._base import Credentials

    dialect = get_dialect("aisquare")
    with pytest.raises(InvalidRequestError, match="integer"):
        dialect.validate(AgentRequest(agent_id="m", message="hi", session_id="1/../../admin"))
    http = dialect.stream_request(
        AgentRequest(agent_id="m", message="hi", session_id="42", user_id="u"),
        Credentials(api_key=SecretStr(FAKE_KEY)),
    )
    assert http.path.endswith("/42/")
    _assert_clean(repr(http), "repr(HttpRequest)")
    chat = get_dialect("chat-messages")
    with pytest.raises(InvalidRequestError, match="UUID"):
        chat.validate(AgentRequest(agent_id="m", message="hi", session_id="../admin", user_id="u"))


# -- keys with characters a header cannot carry (issue 19, item 5) -------------------------------
@pytest.mark.parametrize(
    "bad", [FAKE_KEY + "\x00", FAKE_KEY[:10] + "\n" + FAKE_KEY[10:], FAKE_KEY + "é", "sk-\u00a0x"]
)
def test_a_key_with_control_or_non_ascii_characters_is_refused_without_echo(bad: str) -> None:
    for make in (
        lambda: LyzrClient(api_key=bad, base_url="http://127.0.0.1:1"),
        lambda: ChatLyzr(agent_id="echo", api_key=bad, base_url="http://127.0.0.1:1"),
        lambda: LyzrLLM(agent_id="echo", api_key=bad, base_url="http://127.0.0.1:1"),
    ):
        with pytest.raises(InvalidRequestError, match="control or non-ASCII") as info:
            make()
        _assert_clean(str(info.value), "the key-character error")
        assert bad not in str(info.value) and repr(bad) not in str(info.value)


def test_transport_error_text_is_scrubbed_of_secrets() -> None:
    # Second line of defence: whatever a transport error quotes, the key and header values go.
    import httpx

    from lyzr_stream._http.errors import map_transport_error
    from lyzr_stream._http.limits import Deadline

    secret = "proxy-credential-4f1e2d"
    exc = httpx.LocalProtocolError(f"Illegal header value b'{FAKE_KEY}\\x00' and {secret!r}")
    secrets = (FAKE_KEY, secret)
    error = map_transport_error(exc, in_body=False, deadline=Deadline(None), secrets=secrets)
    _assert_clean(str(error), "a transport error")
    assert secret not in str(error)
    assert isinstance(error, InvalidRequestError), "a request that cannot be sent is not retried"


# -- default_headers values are secrets (issue 19, item 7: the core side) ------------------------
PROXY_SECRET = "Basic cHJveHktdXNlcjpwcm94eS1wYXNzd29yZA=="


def test_default_header_values_stay_out_of_repr_logs_and_errors(
    keyed_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Proxy-Authorization": PROXY_SECRET, "X-Tenant": "tenant-secret-991"}
    client = LyzrClient(api_key=FAKE_KEY, base_url=keyed_emulator.base_url, default_headers=headers)
    caplog.set_level(logging.DEBUG)
    for text in (repr(client), str(client), repr(client.settings)):
        assert PROXY_SECRET not in text and "tenant-secret-991" not in text
    request = AgentRequest(agent_id="echo", message="hi")
    assert client.chat(request).text == "You said: hi"
    assert client.stream(request).until_done().text == "You said: hi"
    assert "[redacted]" in caplog.text
    assert PROXY_SECRET not in caplog.text and "tenant-secret-991" not in caplog.text
    with pytest.raises(InvalidRequestError) as info:
        LyzrClient(api_key=FAKE_KEY, default_headers={"X-Bad": PROXY_SECRET + "\n"})
    assert PROXY_SECRET not in str(info.value)
    client.close()
