"""The asset and session routes, sans-I/O: files in, multipart out, requests built and answers
parsed on bytes."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from lyzr_stream import APIResponseValidationError, InvalidRequestError
from lyzr_stream._files import FilePart, StreamedBody
from lyzr_stream._routes.assets import (
    AssetUploadError,
    DiskFile,
    UploadFile,
    check_upload,
    multipart_body,
    parse_upload_response,
    to_upload_file,
    upload_name,
    upload_route,
)
from lyzr_stream._routes.sessions import (
    create_session_route,
    delete_session_route,
    history_route,
    parse_created_session,
    parse_history,
    parse_sessions,
    sessions_route,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def _sent(body: StreamedBody) -> bytes:
    """What one attempt sends (files read in chunks)."""
    sent = b"".join(body.chunks())
    assert len(sent) == body.length
    return sent


def test_inputs_become_upload_files(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)
    on_disk = to_upload_file(path)
    assert isinstance(on_disk, DiskFile)  # checked, not read: streamed when sent
    assert (on_disk.name, on_disk.size) == ("report.pdf", len(PDF))
    assert on_disk.mime_type == "application/pdf"
    assert b"".join(on_disk.source.chunks()) == PDF
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


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("report.pdf", "report.pdf"),
        ("/home/ada/private/report.pdf", "report.pdf"),
        ("../../etc/report.pdf", "report.pdf"),
        ("C:\\Users\\ada\\report.pdf", "report.pdf"),
        ("..\\report.pdf", "report.pdf"),
    ],
)
def test_file_names_are_reduced_to_their_last_component(given: str, sent: str) -> None:
    assert upload_name(given) == sent
    assert to_upload_file((given, PDF)).name == sent
    assert UploadFile(given, PDF, "application/pdf").name == sent
    assert to_upload_file(("x.pdf", PDF), name=given).name == sent
    named = io.BytesIO(PDF)
    named.name = given
    assert to_upload_file(named).name == sent


@pytest.mark.parametrize("name", ["a\0.pdf", "dir/\0/a.pdf", "folder/", "..", ""])
def test_a_nul_or_no_file_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidRequestError, match=r"NUL character|needs a file name"):
        to_upload_file((name, PDF))
    with pytest.raises(InvalidRequestError, match=r"NUL character|needs a file name"):
        UploadFile(name, PDF, "application/pdf")


def test_a_path_with_a_nul_is_refused_before_any_io() -> None:
    with pytest.raises(InvalidRequestError, match=r"'/tmp/a\\x00\.pdf'.*NUL character"):
        to_upload_file("/tmp/a\0.pdf")


def test_a_file_changed_after_its_check_is_refused_when_sent(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(PDF)
    part = FilePart.check(str(path))
    assert b"".join(part.chunks()) == PDF
    path.write_bytes(PDF + b"more")
    with pytest.raises(InvalidRequestError, match=r"a\.pdf'.*changed after it was checked"):
        b"".join(part.chunks())
    path.write_bytes(b"x" * (200 * 1024))
    big = FilePart.check(str(path))
    chunks = big.chunks()
    next(chunks)
    path.write_bytes(b"short")  # truncated while it is read
    with pytest.raises(InvalidRequestError, match="changed after it was checked"):
        list(chunks)


def test_file_objects_are_read_capped_and_pipes_refused(tmp_path: Path) -> None:
    class Endless:
        name = "endless.pdf"
        asked: list[int] = []

        def read(self, size: int = -1) -> bytes:
            self.asked.append(size)
            return b"x" * size

    endless = Endless()
    with pytest.raises(InvalidRequestError, match=r"'endless\.pdf': more than 100 bytes"):
        to_upload_file(endless, max_bytes=100)  # type: ignore[arg-type]
    assert endless.asked == [101]
    big = tmp_path / "big.pdf"
    with big.open("wb") as out:
        out.truncate(1000)
    with big.open("rb") as opened:
        with pytest.raises(InvalidRequestError, match="1000 bytes is over the 100-byte cap"):
            to_upload_file(opened, max_bytes=100)
        assert opened.tell() == 0  # refused by its size, not read
        opened.seek(950)
        assert to_upload_file(opened, max_bytes=100).size == 50  # what is left to read
    read_end, write_end = os.pipe()
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        with pytest.raises(InvalidRequestError, match=r"'p\.pdf': it is a pipe \(FIFO\), not a"):
            to_upload_file(pipe, name="p.pdf")


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


def test_multipart_body_has_one_files_part_per_file(tmp_path: Path) -> None:
    (tmp_path / "c.pdf").write_bytes(PDF)
    files = [
        UploadFile('q"uote.pdf', PDF, "application/pdf"),
        to_upload_file(tmp_path / "c.pdf"),
        UploadFile("b.png", PNG, "image/png"),
    ]
    streamed, content_type = multipart_body(files, boundary="BOUNDARY")
    body = _sent(streamed)
    assert _sent(streamed) == body  # each attempt reads the same bytes again
    assert content_type == "multipart/form-data; boundary=BOUNDARY"
    assert b'filename="c.pdf"\r\nContent-Type: application/pdf\r\n\r\n' + PDF + b"\r\n--" in body
    assert body.count(b'name="files"') == 3
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
    with pytest.raises(APIResponseValidationError, match=r"2 results for 1 file\(s\) sent"):
        parse_upload_response(json.dumps({"results": [ok, ok]}).encode(), files[:1])
    with pytest.raises(APIResponseValidationError, match="no 'results'"):
        parse_upload_response(b'{"detail": "x"}', files)
    with pytest.raises(APIResponseValidationError, match="not valid JSON"):
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


def test_each_route_is_one_request_built_and_read_without_io() -> None:
    history = history_route("s 1", "agent/x")
    request = history.request
    assert (request.method, request.path) == ("GET", "/v1/sessions/s%201/agent%2Fx/history")
    assert request.json is None and request.content is None
    assert history.parse(b'[{"role": "user", "content": "hi"}]')[0].content == "hi"
    assert history_route("s").request.path == "/v1/sessions/s/history"
    listed = sessions_route("a")
    assert (listed.request.method, listed.request.path, listed.parse(b"[]")) == (
        "GET", "/v1/agent/a/sessions", []
    )  # fmt: skip
    create = create_session_route("a", "u@x", {"title": "Trip"})
    assert (create.request.method, create.request.path) == ("POST", "/v1/sessions/a")
    assert create.request.headers["content-type"] == "application/json"
    assert create.request.json == {"user_id": "u@x", "agent_id": "a", "metadata": {"title": "Trip"}}
    assert create.parse(b'"new-id"') == "new-id"
    delete = delete_session_route("s")
    assert (delete.request.method, delete.request.path, delete.parse(b"anything")) == (
        "DELETE", "/v1/sessions/s", None
    )  # fmt: skip
    with pytest.raises(InvalidRequestError, match="session_id"):
        history_route("..")


def test_the_upload_route_checks_first_and_names_files_in_its_answer() -> None:
    route = upload_route(("a.pdf", PDF), 1024)  # one file, not a sequence of two
    request = route.request
    assert (request.method, request.path) == ("POST", "/v3/assets/upload")
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert isinstance(request.content, StreamedBody)
    assert _sent(request.content).count(b'name="files"') == 1
    with pytest.raises(AssetUploadError, match=r"'a\.pdf': too big"):
        route.parse(b'{"results": [{"success": false, "error": "too big"}]}')
    with pytest.raises(InvalidRequestError, match="over the 8-byte cap"):
        upload_route([("a.pdf", PDF)], 8)
    # The route carries no credential: the client adds the dialect's (one place for x-api-key).
    assert "x-api-key" not in request.headers
    assert PDF.decode() not in repr(route)


def test_the_dialect_authenticates_the_routes() -> None:
    from lyzr_stream.dialects import Credentials, get_dialect

    credentials = Credentials(SecretStr("sk-secret"))
    assert get_dialect("lyzr-v3").auth_headers(credentials) == {"x-api-key": "sk-secret"}
    assert get_dialect("lyzr-v3").auth_headers(Credentials()) == {}
    bearer = get_dialect("aisquare").auth_headers(credentials)
    assert bearer == {"authorization": "Bearer sk-secret"}


# -- knowledge bases ---------------------------------------------------------------------------
from lyzr_stream._routes.knowledge import (  # noqa: E402
    RetrievedChunk,
    documents_route,
    knowledge_base_feature,
    parse_documents,
    parse_retrieval,
    retrieve_route,
)


def test_retrieve_route_encodes_the_id_and_every_parameter() -> None:
    route = retrieve_route("kb/1 ?", "a&b=c ü", top_k=3, retrieval_type="mmr", score_threshold=0.25)
    assert route.service.host == "rag_base_url"
    assert route.request.method == "GET"
    assert route.request.path == (
        "/v3/rag/kb%2F1%20%3F/retrieve/"
        "?query=a%26b%3Dc+%C3%BC&top_k=3&retrieval_type=mmr&score_threshold=0.25"
    )
    # Parameters left out are not sent at all (the service's defaults apply).
    assert retrieve_route("kb", "q").request.path == "/v3/rag/kb/retrieve/?query=q"
    assert documents_route("kb 1").request.path == "/v3/rag/documents/kb%201/"


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"rag_id": ""}, "rag_id"),
        ({"rag_id": 3}, "rag_id"),
        ({"query": "  "}, "query"),
        ({"query": None}, "query"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": True}, "top_k"),
        ({"top_k": 2.0}, "top_k"),
        ({"score_threshold": 1.5}, "score_threshold"),
        ({"score_threshold": float("nan")}, "score_threshold"),
        ({"score_threshold": "0.5"}, "score_threshold"),
        ({"retrieval_type": ""}, "retrieval_type"),
    ],
)
def test_retrieve_route_refuses_bad_arguments(kwargs: dict[str, Any], named: str) -> None:
    args: dict[str, Any] = {"rag_id": "kb", "query": "q", **kwargs}
    with pytest.raises(InvalidRequestError, match=named):
        retrieve_route(args.pop("rag_id"), args.pop("query"), **args)


def test_retrieval_answer_both_shapes_and_all_fields() -> None:
    entry = {
        "text": "Opens at 8.",
        "score": 0.9,
        "source": "hours.pdf",
        "metadata": {"section": "hours"},
        "id": 7,
        "page": 2,
        "chunk_index": 4.0,
        "extra": "kept in raw",
    }
    [chunk] = parse_retrieval(json.dumps({"results": [entry]}).encode())
    assert chunk == RetrievedChunk(
        text="Opens at 8.",
        score=0.9,
        source="hours.pdf",
        metadata={"section": "hours"},
        id="7",
        page=2,
        chunk_index=4,
    )
    assert chunk.raw["extra"] == "kept in raw"
    assert parse_retrieval(json.dumps([entry]).encode()) == [chunk]
    # Only text and score are required; odd optional fields are dropped, not fatal.
    [bare] = parse_retrieval(b'[{"text": "t", "score": 1, "page": "two", "metadata": []}]')
    assert (bare.score, bare.page, bare.metadata, bare.source) == (1.0, None, {}, None)
    assert parse_retrieval(b'{"results": []}') == []
    assert parse_retrieval(b'{"results": null}') == []
    assert parse_retrieval(b"") == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"chunks": []}',
        b'"text"',
        b'[{"score": 0.5}]',
        b'[{"text": "t"}]',
        b'[{"text": "t", "score": "high"}]',
        b'[{"text": "t", "score": true}]',
        b"[1]",
    ],
)
def test_retrieval_answer_without_usable_results_is_a_typed_error(body: bytes) -> None:
    with pytest.raises(APIResponseValidationError):
        parse_retrieval(body)


def test_documents_answer_shapes() -> None:
    assert parse_documents(b'["a.pdf", "b.docx"]') == ["a.pdf", "b.docx"]
    assert parse_documents(b'{"documents": [{"name": "a.pdf"}, {"source": "b"}]}') == ["a.pdf", "b"]
    assert parse_documents(b"") == []
    with pytest.raises(APIResponseValidationError):
        parse_documents(b'{"documents": [{"size": 3}]}')
    with pytest.raises(APIResponseValidationError):
        parse_documents(b'{"count": 3}')


def test_knowledge_base_feature_has_the_official_shape() -> None:
    feature = knowledge_base_feature("kb1", top_k=3, score_threshold=0.2)
    assert feature == {
        "type": "KNOWLEDGE_BASE",
        "config": {
            "lyzr_rag": {},
            "agentic_rag": [
                {
                    "rag_id": "kb1",
                    "name": "kb1",
                    "description": "Knowledge base: kb1",
                    "top_k": 3,
                    "retrieval_type": "basic",
                    "score_threshold": 0.2,
                    "time_decay_factor": 0.4,
                }
            ],
        },
        "priority": 0,
    }
    two = knowledge_base_feature("kb1", "kb2", retrieval_type="mmr")
    assert [b["rag_id"] for b in two["config"]["agentic_rag"]] == ["kb1", "kb2"]
    named = knowledge_base_feature("kb1", name="Handbook", description="Cafe facts")
    assert named["config"]["agentic_rag"][0]["name"] == "Handbook"
    assert named["config"]["agentic_rag"][0]["description"] == "Cafe facts"


@pytest.mark.parametrize(
    ("args", "kwargs", "named"),
    [
        ((), {}, "rag_id"),
        (("",), {}, "rag_id"),
        (("kb", "kb"), {}, "unique"),
        (("kb",), {"top_k": -1}, "top_k"),
        (("kb",), {"score_threshold": 2}, "score_threshold"),
        (("kb",), {"time_decay_factor": float("inf")}, "time_decay_factor"),
        (("kb",), {"retrieval_type": " "}, "retrieval_type"),
        (("a", "b"), {"name": "x"}, "name"),
    ],
)
def test_knowledge_base_feature_refuses_bad_input(
    args: tuple[Any, ...], kwargs: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidRequestError, match=named):
        knowledge_base_feature(*args, **kwargs)


# -- background tasks (issue 27) -----------------------------------------------------------------
def _v3_parse(result: bytes, task_id: str) -> Any:
    from lyzr_stream import AgentRequest
    from lyzr_stream.dialects import get_dialect

    request = AgentRequest(agent_id="a1", message="hi", user_id="u1", session_id="s1")
    return get_dialect("lyzr-v3").parse_chat(result, request)


def test_a_created_task_is_read_leniently_and_strictly() -> None:
    from lyzr_stream._routes.tasks import parse_created_task

    info = parse_created_task(
        b'{"task_id": "t1", "status": "pending", "created_at": "2026-01-01T00:00:00Z", "x": 1}',
        "s1",
    )
    assert (info.task_id, info.status, info.created_at, info.session_id) == (
        "t1",
        "pending",
        "2026-01-01T00:00:00Z",
        "s1",
    )
    assert info.raw["x"] == 1
    # ``id`` for ``task_id``; no status reads as pending; a numeric time is kept as text.
    other = parse_created_task(b'{"id": "t2", "created_at": 1700000000}')
    assert (other.task_id, other.status, other.created_at) == ("t2", "pending", "1700000000")
    for body in (b'{"status": "pending"}', b'{"task_id": ""}', b"[]", b"", b'"t3"'):
        with pytest.raises(APIResponseValidationError):
            parse_created_task(body)


def test_a_task_status_is_read_in_each_phase() -> None:
    from lyzr_stream import AgentResponse
    from lyzr_stream._routes.tasks import parse_task_status

    working = parse_task_status(
        b'{"status": "IN_PROGRESS", "progress": {"step": 2}, "metadata": {"k": "v"}}',
        "t1",
        _v3_parse,
    )
    assert (working.status, working.done, working.progress, working.metadata) == (
        "in_progress",
        False,
        {"step": 2},
        {"k": "v"},
    )
    result = {
        "response": "<think>hm</think>Done.",
        "session_id": "s9",
        "message_id": "m1",
        "metadata": {},
        "tool_calls": [
            {
                "id": "c0",
                "type": "function",
                "function": {"name": "search", "arguments": "{}"},
                "result": "ok",
            },
        ],
        "extra": True,
    }
    body = json.dumps({"task_id": "t1", "status": "completed", "result": result}).encode()
    done = parse_task_status(body, "t1", _v3_parse)
    assert done.done and not done.failed
    response = done.response
    assert isinstance(response, AgentResponse)
    assert (response.text, response.reasoning, response.message_id) == ("Done.", "hm", "m1")
    assert (response.session_id, response.agent_id, response.user_id) == ("s9", "a1", "u1")
    assert [a.name for a in response.tool_activity] == ["search", "search"]
    bare = parse_task_status(b'{"status": "completed", "result": "just text"}', "t1", _v3_parse)
    assert bare.response is not None and bare.response.text == "just text"


def test_a_failed_task_and_unusable_answers() -> None:
    from lyzr_stream._routes.tasks import parse_task_status

    def failed(body: bytes) -> Any:
        return parse_task_status(body, "t1", _v3_parse)

    assert failed(b'{"status": "failed", "error": "boom"}').error == "boom"
    assert failed(b'{"status": "failed", "error": {"message": "nested"}}').error == "nested"
    assert failed(b'{"status": "failed"}').error == "the service gave no reason"
    stopped = failed(b'{"status": "cancelled"}')
    assert (stopped.status, stopped.done, stopped.failed) == ("failed", True, True)
    for body in (
        b'{"progress": 3}',  # no status
        b'{"status": ""}',
        b'{"status": "completed"}',  # completed without a result
        b'{"status": "completed", "result": 5}',
        b"not json",
        b"[1]",
    ):
        with pytest.raises(APIResponseValidationError):
            failed(body)


def test_the_task_requests_are_built_without_io() -> None:
    from lyzr_stream import AgentRequest
    from lyzr_stream._routes.tasks import (
        TASKS,
        check_wait,
        task_path,
        task_request,
        task_status_route,
    )
    from lyzr_stream.dialects import get_dialect
    from lyzr_stream.dialects._base import Credentials

    v3 = get_dialect("lyzr-v3")
    request = AgentRequest(agent_id="a1", message="hi", user_id="u1", session_id="s1")
    chat = v3.chat_request(request, Credentials(SecretStr("k-123456")))
    create = task_request(chat)
    assert (create.method, create.path) == ("POST", "/v3/inference/task/")
    assert (create.json, dict(create.headers)) == (chat.json, dict(chat.headers))
    route = task_status_route("t 1/2", _v3_parse)
    assert (route.request.method, route.request.path) == ("GET", "/v3/inference/task/t%201%2F2")
    assert route.request.json is None
    assert route.service is TASKS and TASKS.offered_by(v3)
    assert not TASKS.offered_by(get_dialect("lyzr-v2"))
    assert route.parse(b'{"status": "pending"}').task_id == "t 1/2"
    for bad in ("", " ", "..", None):
        with pytest.raises(InvalidRequestError, match="task_id"):
            task_path(bad)  # type: ignore[arg-type]
    check_wait(0.5, None)
    check_wait(2, 60)
    for interval, timeout in ((0, None), (1, 0), (float("nan"), None), (1, float("inf"))):
        with pytest.raises(InvalidRequestError):
            check_wait(interval, timeout)
