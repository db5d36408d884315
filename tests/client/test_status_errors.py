"""Before an answer starts: each HTTP status, and an unreachable server, is its typed error."""

from __future__ import annotations

import asyncio

import pytest

from lyzr_stream import (
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    LyzrClient,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from lyzr_stream.emulator import Emulator
from tests.helpers.clients import make_client, req


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


def test_connection_refused_is_a_connection_error() -> None:
    from lyzr_stream import APIConnectionError

    with LyzrClient(api_key="k", base_url="http://127.0.0.1:9", max_retries=0) as c:
        with pytest.raises(APIConnectionError, match="could not reach"):
            c.chat(req())
