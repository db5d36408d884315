"""Message content: text blocks joined, images and files sent as assets, other blocks refused."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from lyzr_stream import InvalidRequestError, LyzrClient
from lyzr_stream._routes.assets import AssetUploadError
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.assets import AssetStore
from tests.helpers.bodies import agent_bodies
from tests.langchain.conftest import ModelFactory

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 40


PDF = b"%PDF-1.4\n%lc-test\ntrailer\n<<>>\n%%EOF\n"


B64_PNG = base64.b64encode(PNG).decode()


DATA_PDF = "data:application/pdf;base64," + base64.b64encode(PDF).decode()


def image_and_pdf(text: str = "What is in these?") -> HumanMessage:
    return HumanMessage(
        content=[
            {"type": "text", "text": text},
            {"type": "image", "base64": B64_PNG, "mime_type": "image/png"},
            {"type": "file", "url": DATA_PDF, "mime_type": "application/pdf", "filename": "q3.pdf"},
        ]
    )


def uploads(em: Emulator) -> list[tuple[str, str, int]]:
    return [(u.file_name, u.mime_type, u.size) for u in AssetStore.of(em.app).uploads]


def assert_received_both(text: str, body: dict[str, Any], em: Emulator) -> None:
    assert "I received 2 file(s): image-1.png (image/png" in text
    assert f"q3.pdf (application/pdf, {len(PDF)} bytes" in text
    recent = AssetStore.of(em.app).uploads[-2:]
    assert body["assets"] == [u.asset_id for u in recent]
    # Stateless by default: the transcript goes as messages (with a session, as message).
    sent = body["message"] if "message" in body else body["messages"][-1]["content"]
    assert sent == "What is in these?"


def test_text_blocks_are_joined(make_model: ModelFactory) -> None:
    message = HumanMessage(content=[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
    assert make_model().invoke([message]).content == "You said: ab"


def test_invoke_sends_an_image_and_a_pdf_as_assets(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    before = len(AssetStore.of(lyzr_emulator.app).uploads)
    answer = make_model("assets").invoke([image_and_pdf()])
    [body] = agent_bodies(lyzr_emulator)
    assert_received_both(answer.text, body, lyzr_emulator)
    assert uploads(lyzr_emulator)[before:] == [
        ("image-1.png", "image/png", len(PNG)),
        ("q3.pdf", "application/pdf", len(PDF)),
    ]


def test_stream_sends_them_too(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    text = "".join(c.text for c in make_model("assets").stream([image_and_pdf()]))
    [body] = agent_bodies(lyzr_emulator)
    assert_received_both(text, body, lyzr_emulator)


async def test_async_invoke_and_stream(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    model = make_model("assets")
    answer = await model.ainvoke([image_and_pdf()])
    assert_received_both(answer.text, agent_bodies(lyzr_emulator)[0], lyzr_emulator)
    text = "".join([c.text async for c in model.astream([image_and_pdf()])])
    assert_received_both(text, agent_bodies(lyzr_emulator)[1], lyzr_emulator)


def test_old_image_url_form_same_bytes_once_and_ids_merged(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    client = LyzrClient(api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url)
    [existing] = client.upload_assets(("kept.pdf", PDF))
    before = len(uploads(lyzr_emulator))
    data_url = f"data:image/png;base64,{B64_PNG}"
    message = HumanMessage(
        content=[
            {"type": "text", "text": "compare"},
            {"type": "image_url", "image_url": {"url": data_url}},
            {"type": "image", "base64": B64_PNG, "mime_type": "image/png"},  # same bytes
            {"type": "file", "file_id": existing.asset_id},  # already an asset: as is
        ]
    )
    answer = make_model("assets", assets=["given-id"]).invoke([message])
    new = AssetStore.of(lyzr_emulator.app).uploads[before:]
    assert [u.file_name for u in new] == ["image-1.png"]
    [body] = agent_bodies(lyzr_emulator)
    assert body["assets"] == ["given-id", existing.asset_id, new[0].asset_id]
    assert "unknown asset given-id" in answer.text and "kept.pdf" in answer.text


def test_failing_upload_names_the_file_and_calls_no_agent(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    message = HumanMessage(
        content=[
            {"type": "text", "text": "read this"},
            {"type": "file", "base64": base64.b64encode(PDF).decode(),
             "mime_type": "application/pdf", "filename": "fail-contract.pdf"},
        ]
    )  # fmt: skip
    with pytest.raises(AssetUploadError, match=r"'fail-contract\.pdf'"):
        make_model("assets").invoke([message])
    with pytest.raises(AssetUploadError, match=r"'fail-contract\.pdf'"):
        list(make_model("assets").stream([message]))
    assert agent_bodies(lyzr_emulator) == []


def test_non_text_blocks_are_refused_before_sending(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    image = HumanMessage(
        content=[
            {"type": "text", "text": "look"},
            {"type": "audio", "base64": "AAAA", "mime_type": "audio/wav"},
        ]
    )
    with pytest.raises(InvalidRequestError, match="'audio' content block"):
        make_model().invoke([image])
    assert lyzr_emulator.requests == []


@pytest.mark.parametrize(
    ("block", "error"),
    [
        ({"type": "image", "base64": "R0lGODlh", "mime_type": "image/gif"}, r"image/gif"),
        ({"type": "image", "url": "https://example.com/cat.png"}, "only inline data"),
        ({"type": "image", "base64": "%%%", "mime_type": "image/png"}, "base64 data is invalid"),
        ({"type": "file"}, "has no data"),
    ],
)
def test_bad_media_fails_before_sending(
    make_model: ModelFactory, lyzr_emulator: Emulator, block: dict[str, Any], error: str
) -> None:
    message = HumanMessage(content=[{"type": "text", "text": "look"}, block])
    with pytest.raises(InvalidRequestError, match=error):
        make_model("assets").invoke([message])
    assert lyzr_emulator.requests == []


def test_a_file_without_text_is_refused(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    message = HumanMessage(content=[{"type": "image", "base64": B64_PNG, "mime_type": "image/png"}])
    with pytest.raises(InvalidRequestError, match="needs some text"):
        make_model("assets", session_id="s").invoke([message])
    assert lyzr_emulator.requests == []


def test_turn_mode_sends_only_the_new_turns_files(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    transcript = [image_and_pdf(), AIMessage("I saw them."), HumanMessage("thanks")]
    answer = make_model("assets", session_id="s", message_mode="turn").invoke(transcript)
    assert answer.text == "No files. You said: thanks"
    assert "assets" not in agent_bodies(lyzr_emulator)[0]


def test_history_mode_sends_the_transcripts_files(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    transcript = [image_and_pdf(), AIMessage("I saw them."), HumanMessage("and now?")]
    answer = make_model("assets", message_mode="history").invoke(transcript)
    [body] = agent_bodies(lyzr_emulator)
    assert len(body["assets"]) == 2 and "I received 2 file(s)" in answer.text
    sent = [m["content"] for m in body["messages"]]
    assert sent == ["What is in these?", "I saw them.", "and now?"]


@tool
def page_count(name: str) -> str:
    """How many pages a document has."""
    return "12"


def test_tool_rounds_carry_the_files(make_model: ModelFactory, lyzr_emulator: Emulator) -> None:
    model = make_model("tool-caller").bind_tools([page_count])
    question = image_and_pdf("page_count('q3.pdf')")
    first = model.invoke([question])
    assert [c["name"] for c in first.tool_calls] == ["page_count"]
    results = [ToolMessage("12", tool_call_id=c["id"], name=c["name"]) for c in first.tool_calls]
    second = model.invoke([question, first, *results])
    assert second.text == "Using the tool results: page_count returned 12."
    bodies = agent_bodies(lyzr_emulator)
    assert len(bodies) == 2 and all(len(b["assets"]) == 2 for b in bodies)


def test_tool_rounds_in_a_session_carry_the_current_turns_files(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("tool-caller", session_id="files-tools").bind_tools([page_count])
    earlier = [HumanMessage("hello"), model.invoke([HumanMessage("hello")])]  # in the session
    question = image_and_pdf("page_count('q3.pdf')")
    first = model.invoke([*earlier, question])
    results = [ToolMessage("12", tool_call_id=c["id"], name=c["name"]) for c in first.tool_calls]
    second = model.invoke([*earlier, question, first, *results])
    assert second.text == "Using the tool results: page_count returned 12."
    bodies = agent_bodies(lyzr_emulator)[1:]
    assert all(b["session_id"] == "files-tools" for b in bodies)
    # Both rounds send the current turn's loop (from the question) and so its two files.
    assert [m["role"] for m in bodies[1]["messages"]] == ["user", "assistant", "tool"]
    assert [len(b["assets"]) for b in bodies] == [2, 2]
