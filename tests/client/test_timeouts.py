"""Every timeout names itself and keeps the partial text; None lifts every limit."""

from __future__ import annotations

import pytest

from lyzr_stream import APITimeoutError, TextDelta, Timeouts
from lyzr_stream.emulator import Emulator
from tests.helpers.clients import make_client, req


def test_body_gets_the_idle_timeout_not_the_first_byte_one(lyzr_emulator: Emulator) -> None:
    # Guards the httpcore detail set_body_read_timeout relies on: a short first-byte timeout
    # must not cut a body whose chunks are slower than it but within the read timeout.
    headers = {"x-emulator-fault": "stall-after:1:0.6"}
    timeout = Timeouts(first_byte=0.3, read=5)
    with make_client(lyzr_emulator, default_headers=headers, timeout=timeout) as c:
        assert c.stream(req()).until_done().text == "You said: hello world"


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
