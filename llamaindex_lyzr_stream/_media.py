"""``ImageBlock`` and ``DocumentBlock`` of LlamaIndex messages, as
:class:`~lyzr_stream._adapters.attachments.MediaPart`\\ s (uploaded as Lyzr assets).

Bytes (LlamaIndex keeps them base64-encoded), a local ``path`` or a ``data:`` URL are read here; a
remote URL is refused (see :mod:`lyzr_stream._adapters.attachments`). The file name is the path's,
else a document's ``title`` (when it is not LlamaIndex's placeholder ``input_document``), else one
made from the type.
"""

from __future__ import annotations

from pathlib import Path

from llama_index.core.base.llms.types import ChatMessage, DocumentBlock, ImageBlock

from lyzr_stream._adapters.attachments import MediaPart, decode_data_url
from lyzr_stream._errors import InvalidRequestError
from lyzr_stream._routes.assets import mime_type_for

__all__ = ["MEDIA_BLOCKS", "media_of"]

MEDIA_BLOCKS = (ImageBlock, DocumentBlock)
_PLACEHOLDER_TITLE = "input_document"


def _read(block: ImageBlock | DocumentBlock, what: str) -> bytes:
    # Typed by assignment: the buffers' read() is Any in some llama-index-core versions and
    # bytes in others (0.14.5), so a return-site "type: ignore" would be unused on one of them.
    data: bytes
    try:
        if isinstance(block, ImageBlock):
            data = block.resolve_image(as_base64=False).read()
        else:
            data = block.resolve_document().read()
    except (OSError, ValueError) as exc:
        raise InvalidRequestError(f"{what}: cannot read its data ({exc})") from None
    return data


def _part(block: ImageBlock | DocumentBlock, what: str) -> MediaPart:
    if isinstance(block, ImageBlock):
        has_data, mime, title = block.image is not None, block.image_mimetype, None
    else:
        has_data, mime, title = block.data is not None, block.document_mimetype, block.title
    name = Path(str(block.path)).name if block.path else None
    if not name and title and title != _PLACEHOLDER_TITLE:
        name = title
    if not has_data and not block.path and block.url:
        data, url_mime = decode_data_url(str(block.url), what)
        return MediaPart(data, mime or url_mime, name)
    if not mime and name:
        mime = mime_type_for(name)
    return MediaPart(_read(block, what), mime, name)


def media_of(message: ChatMessage) -> list[MediaPart]:
    """The image and document blocks of one message, in order."""
    return [
        _part(block, f"the {block.block_type} block #{index + 1} of a {message.role.value} message")
        for index, block in enumerate(message.blocks)
        if isinstance(block, MEDIA_BLOCKS)
    ]
