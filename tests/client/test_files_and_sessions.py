"""Asset uploads and session memory: the sans-I/O parts on bytes, the client over sockets."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from lyzr_stream import (
    AgentRequest,
    APIResponseValidationError,
    AuthenticationError,
    InternalServerError,
    InvalidRequestError,
    LyzrClient,
)
from lyzr_stream._adapters.attachments import (
    CallAttachments,
    MediaPart,
    call_media,
    decode_data_url,
    merge_asset_ids,
)
from lyzr_stream._errors import APITimeoutError
from lyzr_stream._files_and_sessions import _Attempts
from lyzr_stream._http.limits import RetryPolicy
from lyzr_stream._http.send import Deadline
from lyzr_stream._request import ChatMessage
from lyzr_stream._routes.assets import (
    AssetUploadError,
    UploadFile,
    check_upload,
    multipart_body,
    parse_upload_response,
    to_upload_file,
    upload_call,
)
from lyzr_stream._routes.sessions import (
    create_session_call,
    delete_session_call,
    history_call,
    parse_created_session,
    parse_history,
    parse_sessions,
    sessions_call,
)
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.assets import AssetStore

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


# -- sans-I/O: files in, multipart out, answers parsed ------------------------------------------
def test_inputs_become_upload_files(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)
    assert to_upload_file(path) == UploadFile("report.pdf", PDF, "application/pdf")
    assert to_upload_file(str(path)).mime_type == "application/pdf"
    assert to_upload_file(("a.PNG", PNG)).mime_type == "image/png"
    assert to_upload_file(("scan", PNG, "image/jpg")).mime_type == "image/jpeg"
    named = io.BytesIO(PDF)
    named.name = "/tmp/x/notes.pdf"
    assert to_upload_file(named) == UploadFile("notes.pdf", PDF, "application/pdf")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"raw", "need a name"),
        (io.BytesIO(PDF), "needs a name"),
        (("a.pdf",), r"must be \(name, bytes\)"),
        (("a.pdf", "text"), "must be bytes"),
        (42, "cannot upload a int"),
        ("/does/not/exist.pdf", "cannot read"),
    ],
)
def test_bad_inputs_are_refused(value: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        to_upload_file(value)


def test_types_sizes_and_emptiness_checked_before_sending() -> None:
    check_upload([UploadFile("a.png", PNG, "image/png")], 1000)
    with pytest.raises(InvalidRequestError, match=r"'a\.gif' \(image/gif\).*PDF, DOCX"):
        check_upload([to_upload_file(("a.gif", b"GIF89a"))], 1000)
    with pytest.raises(InvalidRequestError, match=r"'blob' .*unknown type"):
        check_upload([to_upload_file(("blob", b"x"))], 1000)
    with pytest.raises(InvalidRequestError, match=r"'a\.pdf': the file is empty"):
        check_upload([UploadFile("a.pdf", b"", "application/pdf")], 1000)
    with pytest.raises(InvalidRequestError, match=r"over the 10-byte cap"):
        check_upload([UploadFile("a.pdf", PDF, "application/pdf")], 10)
    with pytest.raises(InvalidRequestError, match="no files"):
        check_upload([], 10)


def test_multipart_body_has_one_files_part_per_file() -> None:
    files = [
        UploadFile('q"uote.pdf', PDF, "application/pdf"),
        UploadFile("b.png", PNG, "image/png"),
    ]
    body, content_type = multipart_body(files, boundary="BOUNDARY")
    assert content_type == "multipart/form-data; boundary=BOUNDARY"
    assert body.count(b'name="files"') == 2
    assert b'filename="q%22uote.pdf"' in body
    assert b"Content-Type: image/png\r\n\r\n" + PNG + b"\r\n--BOUNDARY--\r\n" in body
    assert body.startswith(b"--BOUNDARY\r\n")


def test_upload_answer_parsed_and_failures_named() -> None:
    files = [UploadFile("a.pdf", PDF, "application/pdf"), UploadFile("b.png", PNG, "image/png")]
    ok = {"success": True, "asset_id": "id1", "file_name": "a.pdf", "type": "document",
          "file_size": 3, "url": "u", "mime_type": "application/pdf"}  # fmt: skip
    bad = {"success": False, "file_name": "b.png", "error": "virus"}
    [asset] = parse_upload_response(json.dumps({"results": [ok]}).encode(), files[:1])
    assert (asset.asset_id, asset.name, asset.size, asset.url) == ("id1", "a.pdf", 3, "u")
    with pytest.raises(AssetUploadError, match=r"'b\.png': virus") as info:
        parse_upload_response(json.dumps({"results": [ok, bad]}).encode(), files)
    assert [a.asset_id for a in info.value.uploaded] == ["id1"]
    assert [f.name for f in info.value.failures] == ["b.png"]
    with pytest.raises(AssetUploadError, match=r"'b\.png': the service returned no result"):
        parse_upload_response(json.dumps({"results": [ok]}).encode(), files)
    with pytest.raises(APIResponseValidationError, match="no 'results'"):
        parse_upload_response(b'{"detail": "x"}', files)
    with pytest.raises(APIResponseValidationError, match="not JSON"):
        parse_upload_response(b"<html>", files)


def test_history_both_shapes_and_sessions_list() -> None:
    entries = [{"role": "user", "content": "hi", "created_at": "t1"},
               {"role": "assistant", "content": "hello", "created_at": None}]  # fmt: skip
    as_list = parse_history(json.dumps(entries).encode())
    wrapped = parse_history(json.dumps({"history": entries}).encode())
    assert as_list == wrapped
    assert [(m.role, m.content, m.created_at) for m in as_list] == [
        ("user", "hi", "t1"),
        ("assistant", "hello", None),
    ]
    assert parse_history(b"[]") == parse_history(b'{"history": null}') == []
    [other_key] = parse_history(b'[{"role": "user", "message": "hey"}]')
    assert other_key.content == "hey"
    with pytest.raises(APIResponseValidationError, match="neither a list"):
        parse_history(b'{"messages": []}')
    with pytest.raises(APIResponseValidationError, match="no role"):
        parse_history(b'[{"content": "x"}]')
    [info] = parse_sessions(b'[{"session_id": "s", "session_name": "Trip", "metadata": {"a": 1}}]')
    assert (info.session_id, info.name, dict(info.metadata)) == ("s", "Trip", {"a": 1})
    assert parse_sessions(b'{"sessions": []}') == []
    assert parse_created_session(b'{"session_id": "new"}') == "new"
    with pytest.raises(APIResponseValidationError):
        parse_created_session(b"{}")


def test_each_route_is_one_call_built_and_read_without_io() -> None:
    history = history_call("s 1", "agent/x")
    assert (history.method, history.path) == ("GET", "/v1/sessions/s%201/agent%2Fx/history")
    assert history.parse(b'[{"role": "user", "content": "hi"}]')[0].content == "hi"
    assert history_call("s").path == "/v1/sessions/s/history"
    listed = sessions_call("a")
    assert (listed.method, listed.path, listed.parse(b"[]")) == ("GET", "/v1/agent/a/sessions", [])
    create = create_session_call("a", "u@x", {"title": "Trip"})
    assert (create.method, create.path, create.content_type) == (
        "POST", "/v1/sessions/a", "application/json"
    )  # fmt: skip
    assert json.loads(create.content) == {
        "user_id": "u@x", "agent_id": "a", "metadata": {"title": "Trip"}
    }  # fmt: skip
    assert create.parse(b'"new-id"') == "new-id"
    delete = delete_session_call("s")
    assert (delete.method, delete.path, delete.parse(b"anything")) == (
        "DELETE", "/v1/sessions/s", None
    )  # fmt: skip
    with pytest.raises(InvalidRequestError, match="session_id"):
        history_call("..")


def test_the_upload_call_checks_first_and_names_files_in_its_answer() -> None:
    call = upload_call(("a.pdf", PDF), 1024)  # one file, not a sequence of two
    assert (call.method, call.path) == ("POST", "/v3/assets/upload")
    assert call.content_type is not None and call.content_type.startswith("multipart/form-data")
    assert call.content.count(b'name="files"') == 1
    with pytest.raises(AssetUploadError, match=r"'a\.pdf': too big"):
        call.parse(b'{"results": [{"success": false, "error": "too big"}]}')
    with pytest.raises(InvalidRequestError, match="over the 8-byte cap"):
        upload_call([("a.pdf", PDF)], 8)
    request = call.http_request(SecretStr("sk-secret"))
    assert request.headers == {
        "accept": "application/json",
        "content-type": call.content_type,
        "x-api-key": "sk-secret",
    }
    assert "sk-secret" not in repr(request) and PDF.decode() not in repr(call)
    assert "x-api-key" not in history_call("s").http_request(None).headers


def test_the_one_shot_retry_rule() -> None:
    attempts = _Attempts(RetryPolicy(max_retries=1, initial_delay=0.0), Deadline(None))
    failure = InternalServerError("boom", status_code=500)
    attempts.begin()
    assert attempts.delay_after(failure) == 0.0
    attempts.begin()
    with pytest.raises(InternalServerError, match="boom"):
        attempts.delay_after(failure)
    # A wait that would outlast the total timeout is cut, then the call ends as a timeout.
    late = _Attempts(RetryPolicy(max_retries=3, initial_delay=5.0), Deadline(0.01))
    late.begin()
    assert late.delay_after(failure) <= 0.01
    with pytest.raises(APITimeoutError) as info:
        late.begin()
    assert info.value.kind == "total" and info.value.__cause__ is failure


def test_data_urls_and_id_merging() -> None:
    assert decode_data_url("data:image/png;base64,iVBORw==", "x") == (b"\x89PNG", "image/png")
    assert decode_data_url("data:,a%20b", "x") == (b"a b", None)
    with pytest.raises(InvalidRequestError, match="only inline data"):
        decode_data_url("https://example.com/cat.png", "an image block")
    with pytest.raises(InvalidRequestError, match="base64 data is invalid"):
        decode_data_url("data:image/png;base64,!!!", "an image block")
    assert merge_asset_ids(["a", "b"], ["b", "c"], ["a"]) == ("a", "b", "c")


def test_call_media_picks_the_new_turn_and_needs_text() -> None:
    messages = [
        ChatMessage(role="user", content="first"),
        ChatMessage(role="assistant", content="ok"),
        ChatMessage(role="user", content="second"),
    ]
    old, new = MediaPart(PNG, "image/png"), MediaPart(PDF, "application/pdf")
    media = [[old], [], [new]]
    assert call_media(messages, media, whole_transcript=False) == [new]
    assert call_media(messages, media, whole_transcript=True) == [old, new]
    looped = [*messages, ChatMessage(role="assistant", content="", tool_calls=({"id": "c"},))]
    loop_media = [*media, []]
    assert call_media(looped, loop_media, whole_transcript=False, current_loop=True) == [new]
    assert call_media(looped, loop_media, whole_transcript=False) == []
    silent = [*messages[:2], ChatMessage(role="user", content=" ")]
    with pytest.raises(InvalidRequestError, match="needs some text"):
        call_media(silent, media, whole_transcript=False)


def test_same_bytes_are_one_upload_and_ids_pass_through() -> None:
    parts = [
        MediaPart(PNG, "image/png"),
        MediaPart(PNG, "image/png", name="again.png"),
        MediaPart(PDF, "application/pdf"),
        MediaPart(asset_id="existing"),
        MediaPart(asset_id="existing"),
    ]
    attachments = CallAttachments(parts)
    assert [(f.name, f.mime_type) for f in attachments.files] == [
        ("image-1.png", "image/png"),
        ("file-2.pdf", "application/pdf"),
    ]
    assert attachments.asset_ids == ("existing",)
    with pytest.raises(InvalidRequestError):
        MediaPart()


# -- over sockets ----------------------------------------------------------------------------
@pytest.fixture
def client(lyzr_emulator: Emulator) -> Iterator[LyzrClient]:
    lyzr_emulator.reset()
    with LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url) as c:
        yield c


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
