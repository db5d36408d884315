"""The key and header values never get out: every channel, on LyzrClient, ChatLyzr and LyzrLLM."""

from __future__ import annotations

import json
import logging
import pickle
import traceback
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run

from langchain_lyzr_stream import ChatLyzr
from llamaindex_lyzr_stream import LyzrLLM
from lyzr_stream import (
    AgentRequest,
    AuthenticationError,
    InvalidRequestError,
    LyzrClient,
    LyzrError,
)
from lyzr_stream._http.send import redact_headers
from lyzr_stream.emulator import Emulator
from tests.conftest import FAKE_KEY
from tests.helpers.clients import lyzr_llm
from tests.helpers.secrets import assert_clean
from tests.langchain.conftest import answer_requests


def _all_surfaces(em: Emulator) -> list[Any]:
    kwargs = {"api_key": FAKE_KEY, "base_url": em.base_url}
    return [
        LyzrClient(**kwargs),
        ChatLyzr(agent_id="echo", **kwargs),
        LyzrLLM(agent_id="echo", **kwargs),
    ]


def test_repr_and_str(keyed_emulator: Emulator) -> None:
    for surface in _all_surfaces(keyed_emulator):
        assert_clean(repr(surface), f"repr({type(surface).__name__})")
        assert_clean(str(surface), f"str({type(surface).__name__})")
    client = LyzrClient(api_key=FAKE_KEY, base_url=keyed_emulator.base_url)
    assert_clean(repr(client.settings), "repr(settings)")


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
    assert_clean(caplog.text, "log records")


def test_redaction_rule() -> None:
    headers = {
        "x-api-key": FAKE_KEY,
        "Authorization": f"Bearer {FAKE_KEY}",
        "Cookie": f"session={FAKE_KEY}",
        "X-Custom-Token": FAKE_KEY,
        "content-type": "application/json",
    }
    redacted = redact_headers(headers)
    assert_clean(json.dumps(redacted), "redact_headers")
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
            assert_clean(channel, "an exception")
        assert_clean(pickle.dumps(error), "a pickled exception")


def test_langchain_serialization(keyed_emulator: Emulator) -> None:
    model = ChatLyzr(agent_id="echo", api_key=FAKE_KEY, base_url=keyed_emulator.base_url)
    assert_clean(dumps(model), "dumps")
    assert_clean(json.dumps(dumpd(model)), "dumpd")
    assert_clean(model.model_dump_json(), "model_dump_json")
    assert_clean(json.dumps(model.model_dump(), default=str), "model_dump")
    assert "LYZR_API_KEY" in dumps(model), "the secret should be referenced by its env name"


def test_llamaindex_serialization(keyed_emulator: Emulator) -> None:
    llm = LyzrLLM(agent_id="echo", api_key=FAKE_KEY, base_url=keyed_emulator.base_url)
    assert_clean(llm.to_json(), "to_json")
    assert_clean(json.dumps(llm.to_dict(), default=str), "to_dict")
    assert_clean(llm.model_dump_json(), "model_dump_json")


def test_pickles(keyed_emulator: Emulator) -> None:
    for surface in _all_surfaces(keyed_emulator)[1:]:
        assert_clean(pickle.dumps(surface), f"pickle({type(surface).__name__})")


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
        assert_clean(run.model_dump_json(), f"the traced run {run.name}")
    llm_runs = [r for r in runs if r.run_type == "llm"]
    assert llm_runs and all(r.serialized for r in llm_runs), "the tracer saw no serialized model"


def test_chatlyzr_key_never_leaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LYZR_API_KEY", raising=False)
    model = ChatLyzr(agent_id="a1", api_key=FAKE_KEY, session_id="s")
    for text in (
        repr(model),
        str(model),
        dumps(model),
        str(dumpd(model)),
        str(model._get_invocation_params()),
        str(model.client.settings),
    ):
        assert FAKE_KEY not in text
    assert FAKE_KEY.encode() not in pickle.dumps(model)


def test_lyzrllm_key_never_leaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LYZR_API_KEY", raising=False)
    llm = LyzrLLM(agent_id="a", api_key=FAKE_KEY)
    texts = [repr(llm), str(llm), llm.to_json(), str(llm.to_dict())]
    if hasattr(llm, "to_payload"):  # the instrumentation payload of newer llama-index-core
        texts.append(str(llm.to_payload()))
    for text in texts:
        assert FAKE_KEY not in text
    assert FAKE_KEY.encode() not in pickle.dumps(llm)


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
        assert_clean(str(info.value), "the key-character error")
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
    assert_clean(str(error), "a transport error")
    assert secret not in str(error)
    assert isinstance(error, InvalidRequestError), "a request that cannot be sent is not retried"


def test_the_scrubber_takes_the_url_encoded_form_too() -> None:
    # The events channel puts the key in its URL's query: a log line may quote it encoded.
    from urllib.parse import quote, urlencode

    from lyzr_stream._errors import scrub

    key = "sk/key+with spaces=="
    text = f"ws://h/ws/s?{urlencode({'x-api-key': key})} and /ws/{quote(key, safe='')} and {key}"
    expected = "ws://h/ws/s?x-api-key=[redacted] and /ws/[redacted] and [redacted]"
    assert scrub(text, (key,)) == expected


# -- default_headers values are secrets (issue 19, item 7) ---------------------------------------
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


HEADER_SECRET = "Basic cHJveHktdXNlcjpTRUNSRVQtaGVhZGVyLXZhbHVl-DO-NOT-LEAK"


class SerializedRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.serialized: list[Any] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self.serialized.append((serialized, kwargs))


def test_chatlyzr_default_header_values_never_leak(
    lyzr_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    model = ChatLyzr(
        agent_id="echo",
        base_url=lyzr_emulator.base_url,
        default_headers={"Proxy-Authorization": HEADER_SECRET},
    )
    recorder = SerializedRecorder()
    assert model.invoke("hi", config={"callbacks": [recorder]}).text == "You said: hi"
    list(model.stream("hi", config={"callbacks": [recorder]}))
    # The header was sent...
    assert answer_requests(lyzr_emulator)[-1].headers.get("proxy-authorization") == HEADER_SECRET
    # ...and shows up nowhere a model is displayed, dumped, pickled or traced.
    for channel, text in {
        "repr": repr(model),
        "str": str(model),
        "model_dump": str(model.model_dump()),
        "model_dump_json": model.model_dump_json(),
        "dumps": dumps(model),
        "dumpd": str(dumpd(model)),
        "invocation params": str(model._get_invocation_params()),
        "callbacks' serialized": str(recorder.serialized),
    }.items():
        assert HEADER_SECRET not in text, f"a header value leaked through {channel}"
    assert HEADER_SECRET.encode() not in pickle.dumps(model)
    clone = pickle.loads(pickle.dumps(model))
    assert clone.default_headers == {}
    assert clone.invoke("again").text == "You said: again"


def test_lyzrllm_default_headers_are_secrets(lyzr_emulator: Emulator) -> None:
    import pickle

    headers = {"Proxy-Authorization": "Basic SECRET-HEADER-VALUE"}
    llm = lyzr_llm(lyzr_emulator, default_headers=headers)
    for text in (repr(llm), str(llm), str(llm.to_dict()), llm.to_json(), str(llm.model_dump())):
        assert "SECRET-HEADER-VALUE" not in text
    assert b"SECRET-HEADER-VALUE" not in pickle.dumps(llm)
    assert llm.client.settings.default_headers  # still sent
