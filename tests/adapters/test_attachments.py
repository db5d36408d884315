"""Files in framework messages (framework-neutral): data URLs, which messages' files a call
uploads, one upload per distinct file."""

from __future__ import annotations

import pytest

from lyzr_stream import InvalidRequestError
from lyzr_stream._adapters.attachments import (
    CallAttachments,
    MediaPart,
    call_media,
    decode_data_url,
    merge_asset_ids,
)
from lyzr_stream._request import ChatMessage

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


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


def test_a_part_name_is_reduced_to_its_last_component_and_nul_refused() -> None:
    named = CallAttachments([MediaPart(PDF, "application/pdf", name="../../home/ada/cv.pdf")])
    assert [f.name for f in named.files] == ["cv.pdf"]
    windows = CallAttachments([MediaPart(PNG, "image/png", name="C:\\Users\\ada\\me.png")])
    assert [f.name for f in windows.files] == ["me.png"]
    with pytest.raises(InvalidRequestError, match="NUL character"):
        CallAttachments([MediaPart(PDF, "application/pdf", name="cv\0.pdf")])
