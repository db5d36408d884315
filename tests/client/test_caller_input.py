"""Odd caller input ends in a typed ``InvalidRequestError`` naming what was wrong, before anything
is sent: never a raw ``OverflowError``, ``TypeError`` or ``UnicodeEncodeError``, and never a hang.

The core's rule for loosely typed numbers: ``timeout`` and ``max_retries`` refuse ``bool`` and
``str`` (``True`` is not one second, ``"2"`` is not two retries).
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

import httpx
import pytest

from lyzr_stream import AgentRequest, InvalidRequestError, Timeouts
from lyzr_stream.emulator import Emulator
from tests.helpers.clients import make_client


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 10**400, 1e300, 0, -1, True, "5"])
def test_bad_timeouts_are_refused_at_construction(lyzr_emulator: Emulator, value: Any) -> None:
    with pytest.raises(InvalidRequestError, match="timeout"):
        make_client(lyzr_emulator, timeout=value)


@pytest.mark.parametrize("part", ["connect", "read", "write", "pool", "first_byte", "total"])
@pytest.mark.parametrize("value", [1e300, math.inf, 10**400, True])
def test_bad_timeout_parts_are_refused(part: str, value: Any) -> None:
    with pytest.raises(InvalidRequestError, match=part):
        Timeouts(**{part: value})


@pytest.mark.parametrize("value", [math.inf, 10**400, True, "5"])
def test_bad_per_call_timeouts_are_refused_before_sending(
    lyzr_emulator: Emulator, value: Any
) -> None:
    lyzr_emulator.reset()
    with make_client(lyzr_emulator) as client:
        request = AgentRequest(agent_id="echo", message="hi")
        with pytest.raises(InvalidRequestError, match="timeout"):
            client.chat(request, timeout=value)
        with pytest.raises(InvalidRequestError, match="timeout"):
            client.stream(request, timeout=value)
    assert not lyzr_emulator.requests


def test_the_largest_timeouts_still_work(lyzr_emulator: Emulator) -> None:
    big = Timeouts(connect=3e7, read=3e7, write=3e7, pool=3e7, total=3e7)
    with make_client(lyzr_emulator, timeout=big) as client:
        assert client.chat(AgentRequest(agent_id="echo", message="hi")).text == "You said: hi"
        assert client.stream(AgentRequest(agent_id="echo", message="hi")).until_done().text


@pytest.mark.parametrize("value", [0, -1, True, "2", 1.5, 10**9])
def test_bad_max_connections(lyzr_emulator: Emulator, value: Any) -> None:
    with pytest.raises(InvalidRequestError, match="max_connections"):
        make_client(lyzr_emulator, max_connections=value)


@pytest.mark.parametrize("value", [True, "2", -1, 1.5])
def test_bad_max_retries(lyzr_emulator: Emulator, value: Any) -> None:
    with pytest.raises(InvalidRequestError, match="max_retries"):
        make_client(lyzr_emulator, max_retries=value)
    with (
        make_client(lyzr_emulator) as client,
        pytest.raises(InvalidRequestError, match="max_retries"),
    ):
        client.chat(AgentRequest(agent_id="echo", message="hi"), max_retries=value)


def test_nested_mapping_proxies_are_sent_as_objects(lyzr_emulator: Emulator) -> None:
    lyzr_emulator.reset()
    variables = MappingProxyType({"outer": MappingProxyType({"inner": "x"}), "list": ("a", "b")})
    with make_client(lyzr_emulator) as client:
        request = AgentRequest(
            agent_id="echo", message="hi", session_id="mp", system_prompt_variables=variables
        )
        assert client.chat(request).text == "You said: hi"
        assert client.stream(request).until_done().text == "You said: hi"
    sent = [r.json["system_prompt_variables"] for r in lyzr_emulator.requests]
    assert sent == [{"outer": {"inner": "x"}, "list": ["a", "b"]}] * 2


def test_unsendable_values_are_a_typed_error(lyzr_emulator: Emulator) -> None:
    with make_client(lyzr_emulator) as client:
        try:
            request = AgentRequest(
                agent_id="echo", message="hi", filter_variables={"when": object()}
            )
        except InvalidRequestError:
            return  # refused by the request model already: as good
        with pytest.raises(InvalidRequestError, match="JSON"):
            client.chat(request)


@pytest.mark.parametrize("field", ["message", "session_id"])
def test_lone_surrogates_are_refused_before_sending(lyzr_emulator: Emulator, field: str) -> None:
    lyzr_emulator.reset()
    values = {"message": "hi", "session_id": "s1", field: "bad \ud800 text"}
    with make_client(lyzr_emulator) as client:
        for call in ("chat", "stream"):
            with pytest.raises(InvalidRequestError, match="Unicode"):
                request = AgentRequest(agent_id="echo", **values)
                if call == "chat":
                    client.chat(request)
                else:
                    client.stream(request).until_done()
    assert not lyzr_emulator.requests


def test_httpx_timeouts_with_huge_parts_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="timeout"):
        Timeouts.coerce(httpx.Timeout(1e300))
