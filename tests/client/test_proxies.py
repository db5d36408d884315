"""Proxies: ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` are honoured as httpx and
openai-python honour them, ``trust_env=False`` ignores them, ``proxy=`` sets one; tested through
a real forwarding proxy on loopback. The plain-http guard holds for the hop to the proxy.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from langchain_lyzr_stream import ChatLyzr
from lyzr_stream import AgentRequest, InvalidRequestError, LyzrClient
from lyzr_stream.emulator import Emulator

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class ForwardProxy:
    """A minimal HTTP forward proxy (absolute-form requests, no CONNECT): it records each
    request line and relays the exchange over a fresh upstream connection."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                part = conn.recv(65536)
                if not part:
                    return
                data += part
            head, _, rest = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
            self.lines.append(f"{method} {target}")
            url = httpx.URL(target)
            headers = [h for h in lines[1:] if not h.lower().startswith(("connection:", "proxy-"))]
            length = next(
                (
                    int(h.split(":", 1)[1])
                    for h in headers
                    if h.lower().startswith("content-length:")
                ),
                0,
            )
            while len(rest) < length:
                rest += conn.recv(65536)
            origin = url.raw_path.decode("ascii")
            upstream_head = "\r\n".join(
                [f"{method} {origin} {version}", *headers, "connection: close"]
            )
            with socket.create_connection((url.host, url.port or 80)) as upstream:
                upstream.sendall(upstream_head.encode("latin-1") + b"\r\n\r\n" + rest)
                while chunk := upstream.recv(65536):
                    conn.sendall(chunk)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForwardProxy]:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    server = ForwardProxy()
    yield server
    server.close()


def _request(session: str = "via-proxy") -> AgentRequest:
    return AgentRequest(agent_id="echo", message="hi", session_id=session)


def _use(client: LyzrClient) -> None:
    assert client.chat(_request()).text == "You said: hi"
    assert client.stream(_request()).until_done().text == "You said: hi"

    async def both() -> None:
        assert (await client.achat(_request())).text == "You said: hi"
        assert (await client.astream(_request()).until_done()).text == "You said: hi"
        await client.aclose()

    asyncio.run(both())


def test_environment_proxy_is_used(
    lyzr_emulator: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    _use(LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url))
    assert len(proxy.lines) == 4
    assert all(line.startswith(f"POST {lyzr_emulator.base_url}/v3/") for line in proxy.lines)


def test_models_use_the_environment_proxy(
    lyzr_emulator: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    model = ChatLyzr(
        agent_id="echo", api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url
    )
    assert model.invoke("hi").text == "You said: hi"
    assert len(proxy.lines) == 1


@pytest.mark.parametrize("bypass", ["no_proxy", "trust_env"])
def test_no_proxy_and_trust_env_false_bypass_it(
    lyzr_emulator: Emulator, proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch, bypass: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    kwargs = {}
    if bypass == "no_proxy":
        monkeypatch.setenv("NO_PROXY", "example.org,127.0.0.1")
    else:
        kwargs["trust_env"] = False
    _use(LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, **kwargs))
    assert proxy.lines == []


def test_explicit_proxy_argument(lyzr_emulator: Emulator, proxy: ForwardProxy) -> None:
    _use(
        LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, proxy=proxy.url)
    )
    assert len(proxy.lines) == 4


def test_the_key_never_goes_in_clear_text_to_a_remote_proxy(
    proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.com:3128")
    with pytest.raises(InvalidRequestError, match="through the proxy"):
        LyzrClient(api_key="k", base_url="http://127.0.0.1:8080")
    with pytest.raises(InvalidRequestError, match="through the proxy"):
        LyzrClient(api_key="k", base_url="http://127.0.0.1:8080", proxy="http://10.1.2.3:3128")
    # https is tunnelled (CONNECT): the proxy never sees the key.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    LyzrClient(api_key="k", base_url="https://agent.example.com")
    # Explicitly allowed, or bypassed.
    LyzrClient(api_key="k", base_url="http://127.0.0.1:8080", allow_insecure_http=True)
    LyzrClient(api_key="k", base_url="http://127.0.0.1:8080", trust_env=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    LyzrClient(api_key="k", base_url="http://127.0.0.1:8080")


def test_a_user_supplied_client_with_a_remote_proxy_is_guarded(proxy: ForwardProxy) -> None:
    remote = httpx.Client(proxy="http://proxy.example.com:3128")
    with pytest.raises(InvalidRequestError, match="through the proxy"):
        LyzrClient(api_key="k", base_url="http://127.0.0.1:8080", http_client=remote)
    aremote = httpx.AsyncClient(proxy="http://proxy.example.com:3128")
    with pytest.raises(InvalidRequestError, match="through the proxy"):
        LyzrClient(api_key="k", base_url="http://127.0.0.1:8080", async_http_client=aremote)
    LyzrClient(api_key="k", base_url="https://agent.example.com", http_client=remote)
    remote.close()


def test_the_guard_sees_the_proxy_httpx_picks(
    proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard asks httpx, which applies the environment itself: a NO_PROXY entry for another
    port does not bypass the proxy, so the key would reach it; a loopback proxy (IPv6 too) is
    fine."""
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.com:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1:9999")
    with pytest.raises(InvalidRequestError, match="through the proxy"):
        LyzrClient(api_key="k", base_url="http://127.0.0.1:8080")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1:8080")
    LyzrClient(api_key="k", base_url="http://127.0.0.1:8080")
    LyzrClient(api_key="k", base_url="http://127.0.0.1:8080", proxy="http://[::1]:3128")
