"""Files in a message, then the agent's session memory read back, in both frameworks.

- ChatLyzr: an image and a PDF go in a ``HumanMessage``; they are uploaded as Lyzr assets just
  before the request, and the agent receives their ids.
- ``RunnableWithMessageHistory`` + ``LyzrChatMessageHistory``: the history the chain sees is the
  agent's own memory of the session, read from the service.
- LlamaIndex: ``read_session_history`` gives the same memory as ``ChatMessage``\\ s.

On the emulator, the ``assets`` agent lists the files it received and ``memory`` repeats what
was said earlier in the session.

    python examples/files_and_memory.py
"""

from __future__ import annotations

import base64
import struct
import sys
import uuid
import warnings
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import connect
from langchain_core.messages import HumanMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory

from langchain_lyzr_stream import ChatLyzr, LyzrChatMessageHistory
from llamaindex_lyzr_stream import read_session_history


def tiny_png() -> bytes:
    """A valid 1x1 white PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def tiny_pdf(text: str) -> bytes:
    """A valid one-page PDF showing ``text``."""
    stream = f"BT /F1 18 Tf 40 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def main() -> None:
    target = connect("assets")
    model = ChatLyzr(agent_id=target.agent_id, api_key=target.api_key, base_url=target.base_url)
    png = base64.b64encode(tiny_png()).decode()
    pdf = base64.b64encode(tiny_pdf("Quarterly revenue: 1234")).decode()
    message = HumanMessage(
        content=[
            {"type": "text", "text": "What do this image and this report contain?"},
            {"type": "image", "base64": png, "mime_type": "image/png"},
            {"type": "file", "base64": pdf, "mime_type": "application/pdf", "filename": "q3.pdf"},
        ]
    )
    print("files:", model.invoke([message]).text)

    memory_agent = target.agent_id if not target.emulated else "memory"
    chat_model = ChatLyzr(agent_id=memory_agent, api_key=target.api_key, base_url=target.base_url)
    prompt = ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history"), ("human", "{question}")]
    )

    def history_of(session_id: str) -> LyzrChatMessageHistory:
        return LyzrChatMessageHistory(session_id, api_key=target.api_key, base_url=target.base_url)

    with warnings.catch_warnings():
        # LangChain 1.6.4 marks RunnableWithMessageHistory deprecated (LangGraph memory instead).
        warnings.simplefilter("ignore")
        chain = RunnableWithMessageHistory(
            prompt | chat_model,
            history_of,
            input_messages_key="question",
            history_messages_key="history",
        )
    session_id = f"{memory_agent}-{uuid.uuid4().hex[:12]}"
    config = {"configurable": {"session_id": session_id}}
    for question in ("My name is Ada.", "What is my name?"):
        print(f"you> {question}\nagent> {chain.invoke({'question': question}, config=config).text}")

    print("memory read back with LlamaIndex:")
    for entry in read_session_history(session_id, client=chat_model.client):
        print(f"  {entry.role.value}: {entry.content}")
    history_of(session_id).clear()
    print("after clear:", len(read_session_history(session_id, client=chat_model.client)), "turns")


if __name__ == "__main__":
    main()
