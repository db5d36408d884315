"""Message blocks: images and documents sent as Lyzr assets, other blocks refused before sending."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
)
from llama_index.core.tools import FunctionTool

from lyzr_stream import InvalidRequestError
from lyzr_stream._routes.assets import AssetUploadError
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.assets import AssetStore
from tests.helpers.bodies import agent_bodies
from tests.llamaindex.conftest import LLMFactory

PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 40


PDF = b"%PDF-1.4\n%li-test\ntrailer\n<<>>\n%%EOF\n"


def image_and_pdf(text: str = "What is in these?", pdf_title: str = "q3.pdf") -> ChatMessage:
    return ChatMessage(
        role=MessageRole.USER,
        blocks=[
            TextBlock(text=text),
            ImageBlock(image=PNG),
            DocumentBlock(data=PDF, title=pdf_title),
        ],
    )


def assert_received_both(text: str, body: dict[str, Any], em: Emulator) -> None:
    assert "I received 2 file(s): image-1.png (image/png" in text
    assert f"q3.pdf (application/pdf, {len(PDF)} bytes" in text
    recent = AssetStore.of(em.app).uploads[-2:]
    sizes = [(u.file_name, u.size) for u in recent]
    assert sizes == [("image-1.png", len(PNG)), ("q3.pdf", len(PDF))]
    assert body["assets"] == [u.asset_id for u in recent]
    # Stateless by default: the transcript goes as messages (with a session, as message).
    sent = body["message"] if "message" in body else body["messages"][-1]["content"]
    assert sent == "What is in these?"


def test_chat_and_complete_paths(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm("assets")
    answer = llm.chat([image_and_pdf()])
    body = agent_bodies(lyzr_emulator)[0]
    assert_received_both(answer.message.content or "", body, lyzr_emulator)
    text = "".join(r.delta or "" for r in llm.stream_chat([image_and_pdf()]))
    assert_received_both(text, agent_bodies(lyzr_emulator)[1], lyzr_emulator)


async def test_async_chat_and_stream(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    llm = make_llm("assets")
    answer = await llm.achat([image_and_pdf()])
    body = agent_bodies(lyzr_emulator)[0]
    assert_received_both(answer.message.content or "", body, lyzr_emulator)
    stream = await llm.astream_chat([image_and_pdf()])
    text = "".join([r.delta or "" async for r in stream])
    assert_received_both(text, agent_bodies(lyzr_emulator)[1], lyzr_emulator)


def test_paths_data_urls_and_duplicates(
    make_llm: LLMFactory, lyzr_emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "scan.png"
    path.write_bytes(PNG)
    data_url = "data:application/pdf;base64," + base64.b64encode(PDF).decode()
    message = ChatMessage(
        role=MessageRole.USER,
        blocks=[
            TextBlock(text="compare"),
            ImageBlock(path=path),
            ImageBlock(image=PNG),  # the same bytes: uploaded once
            DocumentBlock(url=data_url),
        ],
    )
    before = len(AssetStore.of(lyzr_emulator.app).uploads)
    answer = make_llm("assets", assets=["given"]).chat([message])
    new = AssetStore.of(lyzr_emulator.app).uploads[before:]
    assert [(u.file_name, u.mime_type) for u in new] == [
        ("scan.png", "image/png"),
        ("file-1.pdf", "application/pdf"),
    ]
    assert agent_bodies(lyzr_emulator)[0]["assets"] == ["given", *(u.asset_id for u in new)]
    assert "unknown asset given" in (answer.message.content or "")


def test_failing_upload_raises_before_the_agent(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    with pytest.raises(AssetUploadError, match=r"'fail-q3\.pdf'"):
        make_llm("assets").chat([image_and_pdf(pdf_title="fail-q3.pdf")])
    with pytest.raises(AssetUploadError, match=r"'fail-q3\.pdf'"):
        make_llm("assets").stream_chat([image_and_pdf(pdf_title="fail-q3.pdf")])
    assert agent_bodies(lyzr_emulator) == []


def test_remote_url_refused_before_sending(make_llm: LLMFactory, lyzr_emulator: Emulator) -> None:
    message = ChatMessage(
        role=MessageRole.USER,
        blocks=[TextBlock(text="look"), ImageBlock(url="https://example.invalid/a.png")],
    )
    with pytest.raises(InvalidRequestError, match="only inline data"):
        make_llm("assets").chat([message])
    assert lyzr_emulator.requests == []


def test_non_text_blocks_are_refused(make_llm: LLMFactory) -> None:
    from llama_index.core.base.llms.types import AudioBlock, TextBlock

    message = ChatMessage(
        role=MessageRole.USER,
        blocks=[TextBlock(text="look"), AudioBlock(audio=b"RIFF0000WAVE", format="wav")],
    )
    with pytest.raises(InvalidRequestError, match="'audio' block"):
        make_llm().chat([message])


def test_history_mode_and_tool_rounds_carry_the_files(
    make_llm: LLMFactory, lyzr_emulator: Emulator
) -> None:
    first_turn = [image_and_pdf(), ChatMessage(role=MessageRole.ASSISTANT, content="Seen.")]
    answer = make_llm("assets", message_mode="history").chat(
        [*first_turn, ChatMessage(role=MessageRole.USER, content="again?")]
    )
    assert "I received 2 file(s)" in (answer.message.content or "")

    def page_count(name: str) -> str:
        """How many pages a document has."""
        return "12"

    tool = FunctionTool.from_defaults(page_count)
    llm = make_llm("tool-caller")
    question = image_and_pdf("page_count('q3.pdf')")
    first = llm.chat_with_tools([tool], chat_history=[question])
    [call] = llm.get_tool_calls_from_response(first)
    result = ChatMessage(
        role=MessageRole.TOOL, content="12", additional_kwargs={"tool_call_id": call.tool_id}
    )
    second = llm.chat_with_tools([tool], chat_history=[question, first.message, result])
    assert second.message.content == "Using the tool results: page_count returned 12."
    bodies = agent_bodies(lyzr_emulator)
    assert len(bodies) == 3 and all(len(b["assets"]) == 2 for b in bodies)
