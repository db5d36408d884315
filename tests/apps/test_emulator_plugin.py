"""The pytest plugin hands every test a clean recorder (issue 14 item 9). The two tests run in
file order: the second must not see the first one's requests or session memory."""

from __future__ import annotations

from lyzr_stream import AgentRequest, LyzrClient
from lyzr_stream.emulator import Emulator


def test_first_records_a_request_and_a_memory(lyzr_emulator: Emulator) -> None:
    with LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url) as client:
        client.chat(AgentRequest(agent_id="memory", message="apple", session_id="plugin-s"))
    assert len(lyzr_emulator.requests) == 1


def test_second_starts_clean(lyzr_emulator: Emulator, lyzr_emulator_server: Emulator) -> None:
    assert lyzr_emulator is lyzr_emulator_server  # one server per session, reset per test
    assert lyzr_emulator.requests == []
    with LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url) as client:
        answer = client.chat(AgentRequest(agent_id="memory", message="b", session_id="plugin-s"))
    assert answer.text == "This is the start of our conversation."


def test_reset_forgets_uploads_and_created_sessions(lyzr_emulator: Emulator) -> None:
    from lyzr_stream.emulator.assets import AssetStore

    with LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url) as client:
        (asset,) = client.upload_assets([("a.pdf", b"%PDF-1.4 x")])
        created = client.create_session("memory")
        assert [s.session_id for s in client.list_sessions("memory")] == [created]
        assert len(AssetStore.of(lyzr_emulator.app).uploads) == 1
        lyzr_emulator.reset()
        assert AssetStore.of(lyzr_emulator.app).uploads == []
        assert AssetStore.of(lyzr_emulator.app).get(str(asset.asset_id)) is None
        assert client.list_sessions("memory") == []
