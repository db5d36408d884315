"""Images and documents inside framework messages, sent as Lyzr assets (framework-neutral).

A framework converter turns each media content block into a :class:`MediaPart` (bytes with a
MIME type, or the id of an asset already uploaded). For one call, :func:`call_media` picks the
parts that belong to what is sent (the new turn, or the whole transcript in history mode and
tool rounds) and :class:`CallAttachments` uploads each distinct file once, just before the
request goes out, and merges the ids with the request's own ``assets``. An upload failure raises
before the agent is called.

Only inline data is uploaded: a ``data:`` URL, base64 or raw bytes. A remote ``http(s)`` URL is
refused with :class:`~lyzr_stream._errors.InvalidRequestError` (this client does not fetch URLs
on the caller's behalf: download the file and pass its bytes, or upload it yourself and pass the
asset id).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import unquote_to_bytes

from .._errors import InvalidRequestError
from .._request import AgentRequest, ChatMessage
from .._routes.assets import UploadFile, canonical_mime_type, default_name

if TYPE_CHECKING:
    from .._client import LyzrClient

__all__ = [
    "CallAttachments",
    "MediaPart",
    "call_media",
    "decode_base64",
    "decode_data_url",
    "merge_asset_ids",
    "refuse_remote_url",
]


@dataclass(frozen=True, slots=True)
class MediaPart:
    """One image or document of a message: ``content`` to upload, or an ``asset_id``."""

    content: bytes | None = field(default=None, repr=False)
    mime_type: str | None = None
    name: str | None = None
    asset_id: str | None = None

    def __post_init__(self) -> None:
        if (self.content is None) == (self.asset_id is None):
            raise InvalidRequestError("a media part holds either content or an asset id")


def decode_base64(data: str, what: str) -> bytes:
    """Base64 (standard or URL-safe, padding optional) as bytes; a clear error otherwise."""
    cleaned = "".join(data.split())
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.urlsafe_b64decode(cleaned)
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"{what}: the base64 data is invalid") from None


def refuse_remote_url(url: str, what: str) -> NoReturn:
    shown = url if len(url) <= 80 else url[:79] + "…"
    raise InvalidRequestError(
        f"{what} points to {shown!r}: only inline data (a data: URL or base64) is uploaded as a "
        "Lyzr asset; download the file and pass its bytes, or upload it with "
        "LyzrClient.upload_assets and pass the asset id"
    )


def decode_data_url(url: str, what: str) -> tuple[bytes, str | None]:
    """The bytes and MIME type of a ``data:`` URL; any other URL is refused."""
    if not url.startswith("data:"):
        refuse_remote_url(url, what)
    header, comma, payload = url[5:].partition(",")
    if not comma:
        raise InvalidRequestError(f"{what}: the data: URL has no ',' before its data")
    params = header.split(";")
    mime = params[0].strip() or None
    if "base64" in (p.strip().lower() for p in params[1:]):
        return decode_base64(payload, what), mime
    return unquote_to_bytes(payload), mime


def merge_asset_ids(*groups: Sequence[str]) -> tuple[str, ...]:
    """The ids of every group in order, each once."""
    return tuple(dict.fromkeys(asset_id for group in groups for asset_id in group))


def call_media(
    messages: Sequence[ChatMessage],
    media: Sequence[Sequence[MediaPart]],
    *,
    whole_transcript: bool,
    current_loop: bool = False,
) -> list[MediaPart]:
    """The media parts sent with one call, ``media[i]`` being those of ``messages[i]``.

    With a session only the new turn goes out (the messages after the last assistant message),
    so only its media is attached; earlier files are already in the session. In a tool round of
    a session (``current_loop``) what goes out is the loop from the last user message on, so
    that message's files go with every round. The service needs a text message with files (the
    Studio web client requires one too): a new turn holding files but no text is refused here.
    """
    if len(messages) != len(media):
        raise ValueError("one media list per message")
    start = 0
    if not whole_transcript:
        role = "user" if current_loop else "assistant"
        for index in range(len(messages) - 1, -1, -1):
            if messages[index].role == role:
                start = index if current_loop else index + 1
                break
    parts = [part for group in media[start:] for part in group]
    if parts and not whole_transcript:
        has_text = any(m.content.strip() for m in messages[start:] if m.role != "assistant")
        if not has_text:
            raise InvalidRequestError(
                "a message with files needs some text too: the agent receives the files as "
                "assets of a text message (add a text block saying what to do with them)"
            )
    return parts


class CallAttachments:
    """The media of one call: each distinct file (by content hash) uploaded once, the resulting
    ids merged after the request's own ``assets``."""

    __slots__ = ("asset_ids", "files")

    def __init__(self, parts: Sequence[MediaPart]) -> None:
        files: dict[str, UploadFile] = {}
        ids: list[str] = []
        unnamed = 0
        for part in parts:
            if part.asset_id is not None:
                ids.append(part.asset_id)
                continue
            assert part.content is not None  # guaranteed by MediaPart
            digest = hashlib.sha256(part.content).hexdigest()
            if digest in files:
                continue  # the same bytes twice in one call: one upload
            mime = canonical_mime_type(part.mime_type) if part.mime_type else ""
            name = part.name
            if not name:
                unnamed += 1
                stem = "image" if mime.startswith("image/") else "file"
                name = default_name(mime, f"{stem}-{unnamed}")
            files[digest] = UploadFile(name, part.content, mime)
        self.files = list(files.values())
        self.asset_ids = merge_asset_ids(ids)

    def __bool__(self) -> bool:
        return bool(self.files or self.asset_ids)

    def _with_ids(self, request: AgentRequest, uploaded: Sequence[str]) -> AgentRequest:
        assets = merge_asset_ids(request.assets, self.asset_ids, uploaded)
        return request.model_copy(update={"assets": assets})

    def attach(self, client: LyzrClient, request: AgentRequest) -> AgentRequest:
        """``request`` with these files uploaded (now) and their ids in ``assets``."""
        if not self:
            return request
        uploaded = client.upload_assets(self.files) if self.files else []
        return self._with_ids(request, [a.asset_id for a in uploaded])

    async def aattach(self, client: LyzrClient, request: AgentRequest) -> AgentRequest:
        """Async form of :meth:`attach`."""
        if not self:
            return request
        uploaded = await client.aupload_assets(self.files) if self.files else []
        return self._with_ids(request, [a.asset_id for a in uploaded])
