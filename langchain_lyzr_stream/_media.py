"""Images and files in LangChain messages, as
:class:`~lyzr_stream._adapters.attachments.MediaPart`\\ s.

Accepted content blocks (``type`` first):

- ``image`` / ``file``, LangChain v1 standard: ``base64`` (+ ``mime_type``), ``url`` (a
  ``data:`` URL), or ``file_id`` (an existing Lyzr asset id, sent as is). A block with only an
  ``id`` that LangChain did not generate (``lc_...`` ids name the block itself) is taken as an
  asset id too;
- ``image`` / ``file``, the older v0 form: ``source_type`` ``base64`` (``data``), ``url`` or
  ``id``;
- ``image_url``: ``{"image_url": {"url": "data:..."}}`` (or the URL as a plain string);
- OpenAI's ``file`` form: ``{"file": {"file_data": "data:...", "filename": ...}}`` or
  ``{"file": {"file_id": ...}}``.

A remote ``http(s)`` URL is refused (see :mod:`lyzr_stream._adapters.attachments`). The file name
comes from ``filename`` (the block, its ``extras`` or ``metadata``), else one is made from the type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage

from lyzr_stream._adapters.attachments import MediaPart, decode_base64, decode_data_url
from lyzr_stream._errors import InvalidRequestError

__all__ = ["MEDIA_BLOCK_TYPES", "media_of"]

MEDIA_BLOCK_TYPES = frozenset({"image", "file", "image_url"})


def _filename(block: Mapping[str, Any]) -> str | None:
    for holder in (block, block.get("extras"), block.get("metadata")):
        if isinstance(holder, Mapping):
            name = holder.get("filename") or holder.get("name")
            if isinstance(name, str) and name:
                return name
    return None


def _from_url(url: object, block: Mapping[str, Any], what: str) -> MediaPart:
    if not isinstance(url, str) or not url:
        raise InvalidRequestError(f"{what} has no URL")
    data, mime = decode_data_url(url, what)
    mime = block.get("mime_type") or mime
    return MediaPart(data, mime, _filename(block))


def _asset(asset_id: object, what: str) -> MediaPart:
    if not isinstance(asset_id, str) or not asset_id.strip():
        raise InvalidRequestError(f"{what} has an empty asset id")
    return MediaPart(asset_id=asset_id)


def _standard(block: Mapping[str, Any], what: str) -> MediaPart:
    source = block.get("source_type")
    if source is not None:  # v0 form
        if source == "base64":
            return _base64(block.get("data"), block, what)
        if source == "url":
            return _from_url(block.get("url"), block, what)
        if source == "id":
            return _asset(block.get("id"), what)
        raise InvalidRequestError(f"{what} has source_type {source!r}; use base64, url or id")
    if block.get("file_id") is not None:
        return _asset(block["file_id"], what)
    if block.get("base64") is not None:
        return _base64(block["base64"], block, what)
    if block.get("url") is not None:
        return _from_url(block["url"], block, what)
    block_id = block.get("id")
    if isinstance(block_id, str) and block_id and not block_id.startswith("lc_"):
        return _asset(block_id, what)
    raise InvalidRequestError(f"{what} has no data: give base64, a data: url or a file_id")


def _base64(data: object, block: Mapping[str, Any], what: str) -> MediaPart:
    if not isinstance(data, str):
        raise InvalidRequestError(f"{what}: base64 data must be a string")
    return MediaPart(decode_base64(data, what), block.get("mime_type"), _filename(block))


def _openai_file(block: Mapping[str, Any], what: str) -> MediaPart:
    file = block["file"]
    if not isinstance(file, Mapping):
        raise InvalidRequestError(f"{what}: 'file' must be an object")
    if file.get("file_id") is not None:
        return _asset(file["file_id"], what)
    data = file.get("file_data")
    named = {"filename": file.get("filename")}
    if isinstance(data, str) and data.startswith("data:"):
        return _from_url(data, named, what)
    return _base64(data, named, what)


def _part(block: Mapping[str, Any], what: str) -> MediaPart:
    kind = block.get("type")
    if kind == "image_url":
        image_url = block.get("image_url")
        url = image_url.get("url") if isinstance(image_url, Mapping) else image_url
        return _from_url(url, block, what)
    if kind == "file" and "file" in block:
        return _openai_file(block, what)
    return _standard(block, what)


def media_of(message: BaseMessage) -> list[MediaPart]:
    """The media blocks of one message, in order (empty for plain text)."""
    content = message.content
    if isinstance(content, str):
        return []
    parts: list[MediaPart] = []
    for index, block in enumerate(content):
        if isinstance(block, Mapping) and block.get("type") in MEDIA_BLOCK_TYPES:
            what = f"the {block.get('type')} block #{index + 1} of a {type(message).__name__}"
            parts.append(_part(block, what))
    return parts
