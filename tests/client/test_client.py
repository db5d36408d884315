"""LyzrClient end to end over real sockets against the embedded emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from lyzr_stream import (
    AgentError,
    AgentRequest,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidRequestError,
    LyzrClient,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReasoningDelta,
    StreamEnd,
    StreamInterruptedError,
    TextDelta,
    Timeouts,
    UnprocessableEntityError,
)
from lyzr_stream.emulator import Emulator
from tests.conftest import assert_async_pools_clean, assert_pool_clean


def make_client(em: Emulator, **kw: Any) -> LyzrClient:
    return LyzrClient(api_key=em.api_key, base_url=em.base_url, **kw)


@pytest.fixture
def client(lyzr_emulator: Emulator) -> Iterator[LyzrClient]:
    with make_client(lyzr_emulator) as c:
        yield c


def req(agent: str = "echo", message: str = "hello world", **kw: Any) -> AgentRequest:
    return AgentRequest(agent_id=agent, message=message, **kw)


def text_of(events: list[object]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# -- happy paths -----------------------------------------------------------------------------
def test_stream_echo(client: LyzrClient) -> None:
    with client.stream(req()) as stream:
        events = list(stream)
    assert text_of(events) == "You said: hello world"
    assert isinstance(events[-1], StreamEnd)
    assert stream.finished
    assert stream.stats.time_to_first_token is not None
    response = stream.response()
    assert response.text == "You said: hello world"
    assert response.session_id.startswith("echo-")
    assert response.user_id == "default_user"


async def test_astream_echo(client: LyzrClient) -> None:
    async with client.astream(req()) as stream:
        events = [e async for e in stream]
    assert text_of(events) == "You said: hello world"
    assert isinstance(events[-1], StreamEnd)


def test_chat_and_achat(client: LyzrClient) -> None:
    response = client.chat(req(session_id="s-chat"))
    assert response.text == "You said: hello world"
    assert response.session_id == "s-chat"
    assert response.message_id
    assert response.raw is not None and response.raw["response"] == response.text
    aresponse = asyncio.run(client.achat(req()))
    assert aresponse.text == "You said: hello world"


def test_request_body_on_the_wire(lyzr_emulator: Emulator, client: LyzrClient) -> None:
    lyzr_emulator.reset()
    client.chat(
        req(
            session_id="s1",
            user_id="u1",
            system_prompt_variables={"name": "Ada"},
            filter_variables={"f": 1},
            assets=["a1"],
        )
    )
    [recorded] = lyzr_emulator.requests
    assert recorded.path == "/v3/inference/chat/"
    assert recorded.headers["x-api-key"] == lyzr_emulator.api_key
    assert recorded.json == {
        "user_id": "u1",
        "agent_id": "echo",
        "session_id": "s1",
        "message": "hello world",
        "system_prompt_variables": {"name": "Ada"},
        "filter_variables": {"f": 1},
        "assets": ["a1"],
    }


def test_session_memory_on_the_server(client: LyzrClient) -> None:
    first = client.chat(req("memory", "first question", session_id="mem-1"))
    assert first.text == "This is the start of our conversation."
    with client.stream(req("memory", "second", session_id="mem-1")) as stream:
        assert stream.until_done().text == "Earlier you said: first question"
    other = client.chat(req("memory", "x", session_id="mem-2"))
    assert other.text == "This is the start of our conversation."


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("escape", [None, "html"])
def test_unicode_and_escapes_round_trip(
    lyzr_emulator: Emulator, fmt: str, escape: str | None
) -> None:
    from lyzr_stream.emulator.agents import UNICODE_ANSWER

    headers = {"x-emulator-format": fmt}
    if escape:
        headers["x-emulator-escape"] = escape
    with make_client(lyzr_emulator, default_headers=headers) as client:
        assert client.stream(req("unicode")).until_done().text == UNICODE_ANSWER


def test_echo_of_tricky_text_round_trips(client: LyzrClient) -> None:
    tricky = 'quotes " \\" backslash \\\\n tab\t newline\n &amp; <tag> 🌍 世界'
    with client.stream(req(message=tricky)) as stream:
        assert stream.until_done().text == f"You said: {tricky}"


def test_reasoning_is_separated(client: LyzrClient) -> None:
    events = list(client.stream(req("reasoning")))
    assert text_of(events) == "The answer is 42."
    thought = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert thought == "Let me think about it."


def test_long_answer_with_batched_writes(lyzr_emulator: Emulator) -> None:
    from lyzr_stream.emulator import long_answer_tokens

    with make_client(lyzr_emulator, default_headers={"x-emulator-events-per-write": "50"}) as c:
        with c.stream(req("long-2000")) as stream:
            events = list(stream)
    assert text_of(events) == "".join(long_answer_tokens(2000))
    # Coalescing: deltas that arrive in one read leave as one chunk.
    assert sum(isinstance(e, TextDelta) for e in events) < 2000


def test_coalescing_off_keeps_one_delta_per_token(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-events-per-write": "50"}
    with make_client(lyzr_emulator, coalesce=False, default_headers=headers) as c:
        events = list(c.stream(req("long-300")))
    assert sum(isinstance(e, TextDelta) for e in events) == 300


# -- errors ----------------------------------------------------------------------------------
def test_agent_error_midway_keeps_partial_text(client: LyzrClient) -> None:
    received: list[str] = []
    with pytest.raises(AgentError, match="Agent crashed midway") as info:
        for event in client.stream(req("fail-midway")):
            if isinstance(event, TextDelta):
                received.append(event.text)
    assert info.value.partial_text == "Partial answer" == "".join(received)


async def test_agent_error_midway_async(client: LyzrClient) -> None:
    with pytest.raises(AgentError) as info:
        async for _ in client.astream(req("fail-midway")):
            pass
    assert info.value.partial_text == "Partial answer"


def test_chat_endpoint_failure_is_a_500(client: LyzrClient) -> None:
    with pytest.raises(InternalServerError):
        client.chat(req("fail-midway"), max_retries=0)


def test_wrong_key_is_authentication_error(lyzr_emulator: Emulator) -> None:
    with LyzrClient(api_key="wrong", base_url=lyzr_emulator.base_url) as c:
        with pytest.raises(AuthenticationError, match="401") as info:
            list(c.stream(req()))
    assert "wrong" not in str(info.value)


def test_unknown_agent_is_not_found(client: LyzrClient) -> None:
    with pytest.raises(NotFoundError, match="not found"):
        client.chat(req("no-such-agent"))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
    ],
)
@pytest.mark.parametrize("mode", ["stream", "astream", "chat"])
def test_status_codes_map_to_typed_errors(
    lyzr_emulator: Emulator, status: int, error: type[Exception], mode: str
) -> None:
    headers = {"x-emulator-fault": f"status:{status}"}
    with make_client(lyzr_emulator, default_headers=headers, max_retries=0) as c:
        with pytest.raises(error) as info:
            if mode == "stream":
                list(c.stream(req()))
            elif mode == "chat":
                c.chat(req())
            else:

                async def consume() -> None:
                    async for _ in c.astream(req()):
                        pass

                asyncio.run(consume())
    assert info.value.status_code == status  # type: ignore[attr-defined]


def test_retry_after_is_read(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-fault": "status:429:retry-after=7"}
    with make_client(lyzr_emulator, default_headers=headers, max_retries=0) as c:
        with pytest.raises(RateLimitError) as info:
            c.chat(req())
    assert info.value.retry_after == 7


@pytest.mark.parametrize("mode", ["stream", "chat"])
def test_retries_then_succeeds(lyzr_emulator: Emulator, mode: str) -> None:
    lyzr_emulator.reset()
    headers = {"x-emulator-fault": "fail-first:2:503"}
    with make_client(lyzr_emulator, default_headers=headers, max_retries=2) as c:
        request = req(session_id=f"retry-{mode}")
        if mode == "stream":
            stream = c.stream(request)
            assert stream.until_done().text == "You said: hello world"
            assert stream.stats.attempts == 3
        else:
            assert c.chat(request).text == "You said: hello world"
    assert len(lyzr_emulator.requests) == 3


@pytest.mark.parametrize("mode", ["stream", "astream", "chat", "achat"])
def test_every_attempt_sends_the_one_prepared_call(lyzr_emulator: Emulator, mode: str) -> None:
    """The call is prepared once: retries resend the same body, with the same session id that
    was generated for a request that had none."""
    lyzr_emulator.reset()
    headers = {"x-emulator-fault": "fail-first:2:503"}
    with make_client(lyzr_emulator, default_headers=headers, max_retries=2) as c:
        if mode == "stream":
            answer = c.stream(req()).until_done()
        elif mode == "chat":
            answer = c.chat(req())
        else:

            async def run() -> Any:
                if mode == "astream":
                    return await c.astream(req()).until_done()
                return await c.achat(req())

            answer = asyncio.run(run())
    bodies = [r.json for r in lyzr_emulator.requests]
    assert len(bodies) == 3
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["session_id"] == answer.session_id
    assert answer.session_id.startswith("echo-")


def test_no_retry_on_400(lyzr_emulator: Emulator) -> None:
    lyzr_emulator.reset()
    with make_client(lyzr_emulator, default_headers={"x-emulator-fault": "status:400"}) as c:
        with pytest.raises(BadRequestError):
            c.chat(req())
    assert len(lyzr_emulator.requests) == 1


def test_dropped_connection_keeps_partial_text(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, default_headers={"x-emulator-fault": "drop-after:2"}) as c:
        with pytest.raises(StreamInterruptedError) as info:
            list(c.stream(req(message="one two three four")))
    assert info.value.partial_text == "You said:"


def test_missing_done_is_interrupted(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, default_headers={"x-emulator-fault": "no-done"}) as c:
        with pytest.raises(StreamInterruptedError, match="without \\[DONE\\]") as info:
            list(c.stream(req()))
    assert info.value.partial_text == "You said: hello world"


def test_html_instead_of_stream(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-fault": "wrong-content-type"}
    with make_client(lyzr_emulator, default_headers=headers) as c:
        with pytest.raises(APIResponseValidationError, match="text/html"):
            list(c.stream(req()))


def test_idle_timeout_keeps_partial_text(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-fault": "stall-after:2:3"}
    timeout = Timeouts(read=0.3)
    with make_client(lyzr_emulator, default_headers=headers, timeout=timeout) as c:
        with pytest.raises(APITimeoutError) as info:
            list(c.stream(req(message="a b c d")))
    assert info.value.kind == "read"
    assert info.value.partial_text == "You said:"


def test_first_byte_timeout(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-fault": "delay-headers:2"}
    timeout = Timeouts(first_byte=0.3, read=5)
    with (
        make_client(lyzr_emulator, default_headers=headers, timeout=timeout, max_retries=0) as c,
        pytest.raises(APITimeoutError) as info,
    ):
        list(c.stream(req()))
    assert info.value.kind == "first_byte"


def test_body_gets_the_idle_timeout_not_the_first_byte_one(lyzr_emulator: Emulator) -> None:
    # Guards the httpcore detail set_body_read_timeout relies on: a short first-byte timeout
    # must not cut a body whose chunks are slower than it but within the read timeout.
    headers = {"x-emulator-fault": "stall-after:1:0.6"}
    timeout = Timeouts(first_byte=0.3, read=5)
    with make_client(lyzr_emulator, default_headers=headers, timeout=timeout) as c:
        assert c.stream(req()).until_done().text == "You said: hello world"


def test_connection_refused_is_a_connection_error() -> None:
    from lyzr_stream import APIConnectionError

    with LyzrClient(api_key="k", base_url="http://127.0.0.1:9", max_retries=0) as c:
        with pytest.raises(APIConnectionError, match="could not reach"):
            c.chat(req())


# -- early exit and pooling ------------------------------------------------------------------
def test_break_closes_the_response(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-token-delay": "0.01"}
    with make_client(lyzr_emulator, default_headers=headers) as c:
        with c.stream(req("long-500")) as stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    break
        assert_pool_clean(c._sync_http())
        # The pool still works afterwards.
        assert c.chat(req()).text == "You said: hello world"


def test_generator_close_without_context_manager(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator, default_headers={"x-emulator-token-delay": "0.01"}) as c:
        stream = c.stream(req("long-500"))
        next(iter(stream))
        stream.close()
        assert_pool_clean(c._sync_http())


async def test_cancelled_task_closes_the_response(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-token-delay": "0.01"}
    client = make_client(lyzr_emulator, default_headers=headers)
    started = asyncio.Event()

    async def consume() -> None:
        async with client.astream(req("long-500")) as stream:
            async for _ in stream:
                started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert_async_pools_clean(client)
    await client.aclose()


async def test_async_break_with_context_manager(lyzr_emulator: Emulator) -> None:
    client = make_client(lyzr_emulator, default_headers={"x-emulator-token-delay": "0.01"})
    async with client.astream(req("long-500")) as stream:
        async for _ in stream:
            break
    assert_async_pools_clean(client)
    await client.aclose()


def test_connections_are_reused(client: LyzrClient) -> None:
    for _ in range(5):
        client.chat(req())
        client.stream(req()).until_done()
    from tests.conftest import pool_connections

    assert len(pool_connections(client._sync_http())) == 1


def test_asyncio_run_twice_uses_a_pool_per_loop(client: LyzrClient) -> None:
    for _ in range(2):
        assert asyncio.run(client.achat(req())).text == "You said: hello world"


# -- configuration ---------------------------------------------------------------------------
def test_missing_key_is_an_error_at_construction(no_lyzr_env: None) -> None:
    with pytest.raises(InvalidRequestError, match="LYZR_API_KEY"):
        LyzrClient()


def test_env_configuration(
    no_lyzr_env: None, monkeypatch: pytest.MonkeyPatch, lyzr_emulator: Emulator
) -> None:
    monkeypatch.setenv("LYZR_API_KEY", lyzr_emulator.api_key)
    monkeypatch.setenv("LYZR_BASE_URL", lyzr_emulator.base_url)
    monkeypatch.setenv("LYZR_USER_ID", "env-user")
    with LyzrClient() as c:
        assert c.chat(req()).user_id == "env-user"


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="plain http"):
        LyzrClient(api_key="k", base_url="http://example.com")
    LyzrClient(api_key="k", base_url="http://example.com", allow_insecure_http=True)
    LyzrClient(api_key="k", base_url="http://localhost:8080")


def test_default_base_url() -> None:
    assert LyzrClient(api_key="k").settings.base_url == "https://agent-prod.studio.lyzr.ai"


def test_unknown_dialect() -> None:
    with pytest.raises(InvalidRequestError, match="unknown dialect 'nope'"):
        LyzrClient(api_key="k", dialect="nope")


def test_key_not_in_repr_or_pickle() -> None:
    import pickle

    client = LyzrClient(api_key="sk-secret-123")
    assert "sk-secret-123" not in repr(client)
    assert "sk-secret-123" not in repr(client.settings)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(client)


def test_closed_client_refuses_calls(lyzr_emulator: Emulator) -> None:
    c = make_client(lyzr_emulator)
    c.close()
    with pytest.raises(InvalidRequestError, match="closed"):
        c.stream(req())


# -- every timeout names itself ----------------------------------------------------------------
def test_total_timeout_keeps_partial_text(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-token-delay": "0.05"}
    with make_client(lyzr_emulator, default_headers=headers, timeout=Timeouts(total=0.5)) as c:
        received: list[str] = []
        with pytest.raises(APITimeoutError) as info:
            for event in c.stream(req("long-200")):
                if isinstance(event, TextDelta):
                    received.append(event.text)
    assert info.value.kind == "total"
    assert received and info.value.partial_text == "".join(received)
    assert "total timeout" in str(info.value)


async def test_total_timeout_async(lyzr_emulator: Emulator) -> None:
    headers = {"x-emulator-token-delay": "0.05"}
    c = make_client(lyzr_emulator, default_headers=headers, timeout=Timeouts(total=0.5))
    received: list[str] = []
    with pytest.raises(APITimeoutError) as info:
        async with c.astream(req("long-200")) as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    received.append(event.text)
    assert info.value.kind == "total"
    assert info.value.partial_text == "".join(received)
    await c.aclose()


def test_timeout_none_means_no_timeout_on_the_client_and_per_call(lyzr_emulator: Emulator) -> None:
    slow = {"x-emulator-token-delay": "0.3"}
    with make_client(lyzr_emulator, default_headers=slow, timeout=Timeouts(read=0.15)) as c:
        with pytest.raises(APITimeoutError) as info:
            c.stream(req("long-3")).until_done()
        assert info.value.kind == "read"
        # None lifts every limit for this call (httpx's meaning), not "the library defaults".
        assert c.stream(req("long-3"), timeout=None).until_done().text
    with make_client(lyzr_emulator, timeout=None) as unlimited:
        parts = unlimited.settings.timeouts
        assert (parts.connect, parts.read, parts.write, parts.pool, parts.total) == (None,) * 5


@pytest.mark.parametrize(
    ("exc", "in_body", "kind"),
    [
        ("ConnectTimeout", False, "connect"),
        ("PoolTimeout", False, "pool"),
        ("WriteTimeout", False, "write"),
        ("ReadTimeout", False, "first_byte"),
        ("ReadTimeout", True, "read"),
    ],
)
def test_httpx_timeouts_map_to_named_kinds(exc: str, in_body: bool, kind: str) -> None:
    import httpx

    from lyzr_stream._http.errors import map_transport_error
    from lyzr_stream._http.limits import Deadline

    error = map_transport_error(
        getattr(httpx, exc)("boom"), in_body=in_body, deadline=Deadline(None)
    )
    assert isinstance(error, APITimeoutError)
    assert error.kind == kind
    assert str(error).startswith(f"{kind} timeout")


# -- sharded async pools -----------------------------------------------------------------------
def test_shard_plan() -> None:
    from lyzr_stream._http.pools import shard_plan

    assert shard_plan(1) == (1, 1)
    assert shard_plan(64) == (1, 64)
    assert shard_plan(1000) == (16, 63)
    assert shard_plan(10_000) == (16, 625)


async def test_sequential_calls_stay_on_one_warm_connection(lyzr_emulator: Emulator) -> None:
    c = make_client(lyzr_emulator)
    for _ in range(5):
        assert (await c.astream(req()).until_done()).text == "You said: hello world"
    (shard,) = c._async_pools().clients
    from tests.conftest import pool_connections

    assert len(pool_connections(shard)) == 1
    await c.aclose()


async def test_overlapping_streams_spread_over_shards(lyzr_emulator: Emulator) -> None:
    c = make_client(
        lyzr_emulator, max_connections=128, default_headers={"x-emulator-token-delay": "0.01"}
    )

    async def one() -> str:
        return (await c.astream(req("long-20")).until_done()).text

    texts = await asyncio.gather(*(one() for _ in range(40)))
    assert set(texts) == {"".join(f" w{i}" if i else "w0" for i in range(20))}
    shards = c._async_pools().clients
    assert len(shards) == 2, "two shards for 128 connections, both used under overlap"
    assert_async_pools_clean(c)
    await c.aclose()


# -- read-ahead: coalescing under load ---------------------------------------------------------
async def _deltas_of_a_slow_consumer(c: LyzrClient) -> list[str]:
    """A long answer read by a consumer that is busy for 0.3 s after its first delta."""
    deltas: list[str] = []
    async with c.astream(req("long-300")) as stream:
        async for event in stream:
            if isinstance(event, TextDelta):
                deltas.append(event.text)
                if len(deltas) == 1:
                    await asyncio.sleep(0.3)  # busy: the rest of the answer arrives meanwhile
    return deltas


async def test_a_slow_consumer_gets_what_piled_up_as_one_delta(lyzr_emulator: Emulator) -> None:
    c = make_client(lyzr_emulator)
    deltas = await _deltas_of_a_slow_consumer(c)
    from lyzr_stream.emulator import long_answer_tokens

    assert "".join(deltas) == "".join(long_answer_tokens(300))
    assert len(deltas) < 50, f"{len(deltas)} deltas: what was in hand was not merged"
    assert_async_pools_clean(c)
    await c.aclose()


async def test_without_coalescing_every_token_is_its_own_delta(lyzr_emulator: Emulator) -> None:
    c = make_client(lyzr_emulator, coalesce=False)
    deltas = await _deltas_of_a_slow_consumer(c)
    assert len(deltas) == 300
    await c.aclose()
