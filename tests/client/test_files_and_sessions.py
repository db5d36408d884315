"""Asset uploads and session memory over sockets: the client's route methods against the
emulator (sent on the one request path: same retries, errors and refusals as a chat)."""

from __future__ import annotations

import asyncio

import pytest

from lyzr_stream import (
    AgentRequest,
    AssetUploadError,
    AuthenticationError,
    InternalServerError,
    InvalidRequestError,
    LyzrClient,
)
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.assets import AssetStore

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def test_upload_then_the_agent_reads_the_assets(
    client: LyzrClient, lyzr_emulator: Emulator
) -> None:
    assets = client.upload_assets([("report.pdf", PDF), ("photo.png", PNG)])
    assert [(a.name, a.mime_type, a.size) for a in assets] == [
        ("report.pdf", "application/pdf", len(PDF)),
        ("photo.png", "image/png", len(PNG)),
    ]
    stored = AssetStore.of(lyzr_emulator.app).uploads
    assert [(s.file_name, s.size) for s in stored[-2:]] == [
        ("report.pdf", len(PDF)),
        ("photo.png", len(PNG)),
    ]
    answer = client.chat(
        AgentRequest(agent_id="assets", message="describe", assets=[a.asset_id for a in assets])
    )
    assert f"report.pdf (application/pdf, {len(PDF)} bytes, id {assets[0].asset_id})" in answer.text
    assert "photo.png (image/png" in answer.text


def test_failing_file_is_named_and_others_reported(client: LyzrClient) -> None:
    with pytest.raises(AssetUploadError, match=r"'fail-scan\.png': could not process") as info:
        client.upload_assets([("ok.pdf", PDF), ("fail-scan.png", PNG)])
    assert [a.name for a in info.value.uploaded] == ["ok.pdf"]


def test_refused_type_sends_nothing(client: LyzrClient, lyzr_emulator: Emulator) -> None:
    with pytest.raises(InvalidRequestError, match=r"notes\.txt"):
        client.upload_assets([("a.pdf", PDF), ("notes.txt", b"hello")])
    client.max_asset_bytes = 8
    with pytest.raises(InvalidRequestError, match="over the 8-byte cap"):
        client.upload_assets(("a.pdf", PDF))
    assert lyzr_emulator.state.requests == []


def test_upload_is_retried_like_a_chat(lyzr_emulator: Emulator) -> None:
    lyzr_emulator.reset()
    flaky = {"x-emulator-fault": "fail-first:2:503"}
    with LyzrClient(
        api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, default_headers=flaky
    ) as client:
        [asset] = client.upload_assets(("a.png", PNG))
        assert asset.name == "a.png"
        uploads = [r for r in lyzr_emulator.state.requests if r.path == "/v3/assets/upload"]
        assert len(uploads) == 3
        lyzr_emulator.reset()  # the fault counts from zero again
        with pytest.raises(InternalServerError):
            client.upload_assets(("b.png", PNG), max_retries=0)


def test_upload_with_a_bad_key_is_an_authentication_error(lyzr_emulator: Emulator) -> None:
    with LyzrClient(api_key="wrong", base_url=lyzr_emulator.base_url) as bad:
        with pytest.raises(AuthenticationError):
            bad.upload_assets(("a.pdf", PDF))
        with pytest.raises(AuthenticationError):
            bad.session_history("s")


def test_session_history_list_and_delete(client: LyzrClient) -> None:
    session = "memory-session-1"
    for text in ("my name is Ada", "what is my name?"):
        client.chat(AgentRequest(agent_id="memory", message=text, session_id=session))
    history = client.session_history(session)
    assert [(m.role, m.content) for m in history] == [
        ("user", "my name is Ada"),
        ("assistant", "This is the start of our conversation."),
        ("user", "what is my name?"),
        ("assistant", "Earlier you said: my name is Ada"),
    ]
    assert client.session_history(session, agent_id="memory") == history  # {"history": [...]}
    assert session in [s.session_id for s in client.list_sessions("memory")]
    client.delete_session(session)
    assert client.session_history(session) == []
    assert session not in [s.session_id for s in client.list_sessions("memory")]


def test_create_session_and_async_forms(client: LyzrClient) -> None:
    async def scenario() -> None:
        created = await client.acreate_session("echo", metadata={"title": "Trip"})
        listed = await client.alist_sessions("echo")
        assert [(s.session_id, s.name) for s in listed] == [(created, "Trip")]
        await client.achat(AgentRequest(agent_id="echo", message="hi", session_id=created))
        history = await client.asession_history(created)
        assert [m.content for m in history] == ["hi", "You said: hi"]
        [asset] = await client.aupload_assets(("a.png", PNG))
        assert asset.mime_type == "image/png"
        await client.adelete_session(created)
        assert await client.alist_sessions("echo") == []

    asyncio.run(scenario())


def test_other_dialects_have_no_files_or_sessions(lyzr_emulator: Emulator) -> None:
    with LyzrClient(
        api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, dialect="lyzr-v2"
    ) as v2:
        with pytest.raises(InvalidRequestError, match="lyzr-v3"):
            v2.session_history("s")
