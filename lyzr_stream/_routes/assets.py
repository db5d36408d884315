"""Lyzr assets (uploaded files), sans-I/O: what to send to ``POST /v3/assets/upload`` and how
to read its answer.

An upload is one multipart request with one ``files`` part per file (the Studio web client's
form). The service answers ``{"results": [{"success", "asset_id", "file_name", "type",
"file_size", "url", "mime_type", "error"?}]}``, one entry per file; the ids go in a request's
``assets``. Files are checked here before anything is sent: a type the service takes (PDF, DOCX,
PPTX, XLSX/XLS, JPEG, PNG, the web client's list), a size under the cap, not empty.
"""

from __future__ import annotations

import mimetypes
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any, Union

from .._errors import APIResponseValidationError, InvalidRequestError, LyzrError, excerpt
from .._json import decode
from .route import FILES, Route

__all__ = [
    "ALLOWED_MIME_TYPES",
    "DEFAULT_MAX_ASSET_BYTES",
    "UPLOAD_PATH",
    "Asset",
    "AssetUploadError",
    "FileInput",
    "UploadFile",
    "check_upload",
    "multipart_body",
    "parse_upload_response",
    "to_upload_file",
    "upload_route",
]

UPLOAD_PATH = "/v3/assets/upload"
#: The Studio web client refuses files over 10 MB; the same cap by default (configurable).
DEFAULT_MAX_ASSET_BYTES = 10 * 1024 * 1024

#: MIME type -> file name extensions, the types the Studio web client lets users upload.
ALLOWED_MIME_TYPES: Mapping[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.ms-excel": (".xls",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
}
_BY_EXTENSION = {ext: mime for mime, exts in ALLOWED_MIME_TYPES.items() for ext in exts}
#: Spellings seen in the wild for the same types.
_MIME_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
#: Names for the allowed types in error messages.
_ALLOWED_NAMES = "PDF, DOCX, PPTX, XLSX, XLS, JPEG, PNG"


@dataclass(frozen=True, slots=True)
class UploadFile:
    """One file ready to upload: its name, bytes and MIME type (the bytes stay out of repr)."""

    name: str
    content: bytes = field(repr=False)
    mime_type: str

    @property
    def size(self) -> int:
        return len(self.content)


#: What ``upload_assets`` accepts per file: a path, an :class:`UploadFile`, a binary file object
#: with a ``name``, ``(name, bytes)`` or ``(name, bytes, mime_type)``.
FileInput = Union[
    str,
    "os.PathLike[str]",
    UploadFile,
    IO[bytes],
    tuple[str, bytes],
    tuple[str, bytes, str],
]


@dataclass(frozen=True, slots=True)
class Asset:
    """One uploaded file as the service reported it. ``asset_id`` goes in a request's ``assets``."""

    asset_id: str
    name: str
    type: str | None = None
    size: int | None = None
    url: str | None = None
    mime_type: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class FailedUpload:
    """One file the service did not accept, and why."""

    name: str
    error: str


class AssetUploadError(LyzrError):
    """The service refused one or more files of an upload.

    ``failures`` names each refused file and the reason; ``uploaded`` lists the files of the
    same request that did upload (their ids are valid, but were not used).
    """

    def __init__(
        self, failures: Sequence[FailedUpload], uploaded: Sequence[Asset] = ()
    ) -> None:
        names = "; ".join(f"{f.name!r}: {f.error}" for f in failures)
        super().__init__(f"upload failed for {len(failures)} file(s): {names}")
        self.failures = tuple(failures)
        self.uploaded = tuple(uploaded)


def canonical_mime_type(mime_type: str) -> str:
    """Lower case, parameters dropped, common aliases (``image/jpg``) mapped."""
    base = mime_type.split(";", 1)[0].strip().lower()
    return _MIME_ALIASES.get(base, base)


def mime_type_for(name: str) -> str | None:
    """The MIME type a file name implies (allowed types first, then the system's table)."""
    suffix = Path(name).suffix.lower()
    if suffix in _BY_EXTENSION:
        return _BY_EXTENSION[suffix]
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed


def default_name(mime_type: str, stem: str = "file") -> str:
    """A file name for unnamed bytes (``image.png``): the service shows and types files by it."""
    extensions = ALLOWED_MIME_TYPES.get(canonical_mime_type(mime_type))
    return stem + (extensions[0] if extensions else "")


def _from_file_object(value: IO[bytes], name: str | None) -> tuple[str, bytes]:
    file_name = name or getattr(value, "name", None)
    if not isinstance(file_name, str) or not file_name:
        raise InvalidRequestError(
            "a file object to upload needs a name (open it from a path, or pass "
            "(name, bytes) or UploadFile(name, content, mime_type))"
        )
    data = value.read()
    if not isinstance(data, bytes):
        raise InvalidRequestError(f"{file_name!r} must be opened in binary mode ('rb')")
    return os.path.basename(file_name), data


def to_upload_file(
    value: FileInput, *, name: str | None = None, mime_type: str | None = None
) -> UploadFile:
    """One accepted input as an :class:`UploadFile` (reading a path or file object now).

    The MIME type is the one given, else the one the name implies. Type and size are checked by
    :func:`check_upload`.
    """
    item: Any = value  # checked at run time: callers pass anything
    if isinstance(item, UploadFile):
        file = item
        if name is not None or mime_type is not None:
            file = UploadFile(name or file.name, file.content, mime_type or file.mime_type)
        return file
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidRequestError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
        file_name = name or path.name
    elif isinstance(item, tuple):
        if len(item) not in (2, 3) or not isinstance(item[0], str):
            raise InvalidRequestError(
                "a file tuple must be (name, bytes) or (name, bytes, mime_type)"
            )
        file_name, data = name or item[0], item[1]
        if len(item) == 3 and mime_type is None:
            mime_type = item[2]
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidRequestError(f"the content of {file_name!r} must be bytes")
        data = bytes(data)
    elif isinstance(item, (bytes, bytearray, memoryview)):
        raise InvalidRequestError(
            "bytes to upload need a name: pass (name, bytes) or UploadFile(name, content, mime)"
        )
    elif hasattr(item, "read"):
        file_name, data = _from_file_object(item, name)
    else:
        raise InvalidRequestError(
            f"cannot upload a {type(item).__name__}: pass a path, a binary file object, "
            "(name, bytes) or an UploadFile"
        )
    if not file_name:
        raise InvalidRequestError("a file to upload needs a non-empty name")
    resolved = mime_type or mime_type_for(file_name) or ""
    return UploadFile(file_name, data, canonical_mime_type(resolved) if resolved else "")


def check_upload(files: Sequence[UploadFile], max_bytes: int) -> None:
    """Refuse, before sending, what the service would not take: no files, a type outside the
    allowed list, an empty file, a file over ``max_bytes``."""
    if not files:
        raise InvalidRequestError("no files to upload")
    for file in files:
        if file.mime_type not in ALLOWED_MIME_TYPES:
            kind = file.mime_type or "an unknown type"
            raise InvalidRequestError(
                f"cannot upload {file.name!r} ({kind}): Lyzr assets accept {_ALLOWED_NAMES} "
                "(give the MIME type if the name has no extension)"
            )
        if not file.content:
            raise InvalidRequestError(f"cannot upload {file.name!r}: the file is empty")
        if file.size > max_bytes:
            raise InvalidRequestError(
                f"cannot upload {file.name!r}: {file.size} bytes is over the {max_bytes}-byte "
                "cap (raise max_asset_bytes if the service accepts larger files)"
            )


def _quoted(value: str) -> str:
    # RFC 7578: names are quoted strings; browsers percent-encode quotes and line breaks.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def multipart_body(
    files: Sequence[UploadFile], boundary: str | None = None
) -> tuple[bytes, str]:
    """The ``multipart/form-data`` body (one ``files`` part per file) and its content type."""
    boundary = boundary or f"lyzr-stream-{uuid.uuid4().hex}"
    marker = f"--{boundary}".encode()
    parts: list[bytes] = []
    for file in files:
        head = (
            f'Content-Disposition: form-data; name="files"; filename="{_quoted(file.name)}"\r\n'
            f"Content-Type: {file.mime_type}\r\n\r\n"
        ).encode()
        parts += [marker, b"\r\n", head, file.content, b"\r\n"]
    parts += [marker, b"--\r\n"]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_upload_response(body: bytes, files: Sequence[UploadFile]) -> list[Asset]:
    """The assets of an upload answer, in the order of ``files``.

    Raises :class:`AssetUploadError` naming every file the service refused, and
    :class:`~lyzr_stream._errors.APIResponseValidationError` when the answer is not the
    documented shape.
    """
    document = decode(body, what="the upload answer")
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise APIResponseValidationError(
            "the upload answer has no 'results' list", body_excerpt=excerpt(body)
        )
    assets: list[Asset] = []
    failures: list[FailedUpload] = []
    for index, result in enumerate(results):
        fallback = files[index].name if index < len(files) else f"file #{index + 1}"
        name = _optional_str(result.get("file_name")) or fallback
        asset_id = _optional_str(result.get("asset_id") or result.get("id"))
        if result.get("success") is False or asset_id is None:
            error = result.get("error") or result.get("detail") or "no asset id returned"
            failures.append(FailedUpload(name, str(error)))
            continue
        assets.append(
            Asset(
                asset_id=asset_id,
                name=name,
                type=_optional_str(result.get("type")),
                size=_optional_int(result.get("file_size")),
                url=_optional_str(result.get("url")),
                mime_type=_optional_str(result.get("mime_type")),
                raw=result,
            )
        )
    if len(results) < len(files) and not failures:
        missing = [f.name for f in files[len(results) :]]
        failures = [FailedUpload(name, "the service returned no result for it") for name in missing]
    if failures:
        raise AssetUploadError(failures, assets)
    return assets


def upload_route(files: Sequence[FileInput] | FileInput, max_bytes: int) -> Route[list[Asset]]:
    """The upload of ``files`` (one input or a sequence of them), read and checked now: nothing
    is sent for a file the service would refuse. The call's ``parse`` names each file."""
    given: Any = files  # checked at run time: callers pass anything
    if isinstance(given, (str, bytes, tuple)) or not isinstance(given, Sequence):
        given = [given]
    prepared = [to_upload_file(f) for f in given]
    check_upload(prepared, max_bytes)
    parse = partial(parse_upload_response, files=prepared)
    return Route.post_content(FILES, UPLOAD_PATH, multipart_body(prepared), parse)
