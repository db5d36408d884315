"""ChatLyzr with images and files (uploaded as Lyzr assets) and LyzrChatMessageHistory, over
sockets against the emulator's upload, session and ``assets`` agent routes."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from langchain_core.tools import tool

from langchain_lyzr_stream import ChatLyzr, LyzrChatMessageHistory
from lyzr_stream import InvalidRequestError, LyzrClient, NotFoundError
from lyzr_stream._routes.assets import AssetUploadError
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.assets import AssetStore
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


def agent_bodies(em: Emulator) -> list[dict[str, Any]]:
    return [r.json for r in em.requests if r.path.startswith("/v3/inference/")]


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
    answer = make_model("assets", session_id="s").invoke(transcript)
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
    earlier = [HumanMessage("hello"), AIMessage("hi")]
    question = image_and_pdf("page_count('q3.pdf')")
    first = model.invoke([*earlier, question])
    results = [ToolMessage("12", tool_call_id=c["id"], name=c["name"]) for c in first.tool_calls]
    second = model.invoke([*earlier, question, first, *results])
    assert second.text == "Using the tool results: page_count returned 12."
    bodies = agent_bodies(lyzr_emulator)
    # Both rounds send the current turn's loop (from the question) and so its two files.
    assert [m["role"] for m in bodies[1]["messages"]] == ["user", "assistant", "tool"]
    assert [len(b["assets"]) for b in bodies] == [2, 2]


# -- LyzrChatMessageHistory ------------------------------------------------------------------
def history_for(em: Emulator, session_id: str, **kw: Any) -> LyzrChatMessageHistory:
    return LyzrChatMessageHistory(session_id, api_key=em.api_key, base_url=em.base_url, **kw)


@pytest.mark.filterwarnings("ignore::langchain_core._api.deprecation.LangChainDeprecationWarning")
def test_runnable_with_message_history_reads_the_agents_memory(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    prompt = ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history"), ("human", "{question}")]
    )
    chain = RunnableWithMessageHistory(
        prompt | make_model("memory"),
        lambda session_id: history_for(lyzr_emulator, session_id, agent_id="memory"),
        input_messages_key="question",
        history_messages_key="history",
    )
    config: Any = {"configurable": {"session_id": "lc-history-1"}}
    first = chain.invoke({"question": "I like tea"}, config=config)
    second = chain.invoke({"question": "What do I like?"}, config=config)
    assert second.text == "Earlier you said: I like tea"
    history = history_for(lyzr_emulator, "lc-history-1")
    said = [(type(m).__name__, m.content) for m in history.messages]
    assert said == [
        ("HumanMessage", "I like tea"),
        ("AIMessage", first.text),
        ("HumanMessage", "What do I like?"),
        ("AIMessage", second.text),
    ]
    # Turn mode: the second request carried only the new question, not the history again.
    assert agent_bodies(lyzr_emulator)[1]["message"] == "What do I like?"
    client = history.client
    assert "lc-history-1" in [s.session_id for s in client.list_sessions("memory")]
    history.clear()
    assert history.messages == []
    assert "lc-history-1" not in [s.session_id for s in client.list_sessions("memory")]


async def test_async_history_and_adding_is_a_no_op(
    make_model: ModelFactory, lyzr_emulator: Emulator
) -> None:
    model = make_model("echo", session_id="lc-history-2")
    await model.ainvoke("one")
    history = history_for(lyzr_emulator, "lc-history-2", agent_id="echo")
    history.add_messages([HumanMessage("never stored")])
    await history.aadd_messages([HumanMessage("never stored")])
    messages = await history.aget_messages()
    assert [m.content for m in messages] == ["one", "You said: one"]
    await history.aclear()
    assert await history.aget_messages() == []


def test_an_unknown_session_reads_as_empty(lyzr_emulator: Emulator) -> None:
    history = LyzrChatMessageHistory(
        "never-used",
        api_key=lyzr_emulator.api_key,
        base_url=lyzr_emulator.base_url,
        default_headers={"x-emulator-fault": "status:404"},
    )
    assert history.messages == []
    history.clear()  # nothing to delete: no error
    with pytest.raises(NotFoundError):
        history.client.session_history("never-used")


def test_history_arguments_checked(lyzr_emulator: Emulator, no_lyzr_env: None) -> None:
    with pytest.raises(InvalidRequestError, match="session_id"):
        history_for(lyzr_emulator, " ")
    with pytest.raises(InvalidRequestError, match="API key"):
        LyzrChatMessageHistory("s", base_url=lyzr_emulator.base_url)
    history = history_for(lyzr_emulator, "s")
    assert lyzr_emulator.api_key not in repr(history)
    em = lyzr_emulator
    model = ChatLyzr(agent_id="echo", api_key=em.api_key, base_url=em.base_url)
    shared = LyzrChatMessageHistory("s", client=model.client)
    assert shared.messages == []
