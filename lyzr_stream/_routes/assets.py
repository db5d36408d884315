"""Lyzr assets (uploaded files), sans-I/O: what to send to ``POST /v3/assets/upload`` and how
to read its answer.

An upload is one multipart request with one ``files`` part per file (the Studio web client's
form). The service answers ``{"results": [{"success", "asset_id", "file_name", "type",
"file_size", "url", "mime_type", "error"?}]}``, one entry per file; the ids go in a request's
``assets``. Files are checked here before anything is sent: a regular file or bytes, a type the
service takes (PDF, DOCX, PPTX, XLSX/XLS, JPEG, PNG, the web client's list), a size under the cap
(known before reading), not empty, a plain file name. A path is streamed when sent, never read
whole.
"""

from __future__ import annotations

import mimetypes
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import IO, Any, Union

from .._errors import APIResponseValidationError, InvalidRequestError, LyzrError, excerpt
from .._files import BodyPart, FilePart, StreamedBody, regular_file_size
from .._json import decode
from .route import FILES, Route, optional_str

__all__ = [
    "ALLOWED_MIME_TYPES",
    "DEFAULT_MAX_ASSET_BYTES",
    "UPLOAD_PATH",
    "Asset",
    "AssetUploadError",
    "DiskFile",
    "FileInput",
    "PreparedFile",
    "UploadFile",
    "check_upload",
    "multipart_body",
    "parse_upload_response",
    "to_upload_file",
    "upload_name",
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


_SEPARATORS = re.compile(r"[/\\]")


def upload_name(name: str) -> str:
    """The name a file is uploaded under: the last component of ``name`` (``/`` or ``\\``), so
    no directory of the caller's reaches the service. A NUL, or no file name, is refused."""
    if "\0" in name:
        raise InvalidRequestError(f"the file name {name!r} holds a NUL character")
    base = _SEPARATORS.split(name)[-1]
    if base in ("", ".", ".."):
        raise InvalidRequestError(f"a file to upload needs a file name, got {name!r}")
    return base


@dataclass(frozen=True, slots=True)
class UploadFile:
    """One file ready to upload: its name, bytes and MIME type (the bytes stay out of repr).
    The name is reduced to its last path component (:func:`upload_name`)."""

    name: str
    content: bytes = field(repr=False)
    mime_type: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", upload_name(self.name))

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True, slots=True)
class DiskFile:
    """A regular file to upload from disk: checked, not read (it is streamed when sent)."""

    name: str
    source: FilePart
    mime_type: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", upload_name(self.name))

    @property
    def size(self) -> int:
        return self.source.size


#: A file checked and ready to send: bytes in memory, or a file streamed from disk.
PreparedFile = UploadFile | DiskFile


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


def _too_large(name: str, size: int | None, max_bytes: int) -> InvalidRequestError:
    shown = f"more than {max_bytes} bytes" if size is None else f"{size} bytes"
    return InvalidRequestError(
        f"cannot upload {name!r}: {shown} is over the {max_bytes}-byte cap (raise "
        "max_asset_bytes if the service accepts larger files)"
    )


def _size_left(value: IO[bytes], name: str) -> int | None:
    """The bytes left in a file object backed by a file descriptor (None: no descriptor, or no
    position); a pipe, a device or a socket behind it is refused."""
    try:
        info = os.fstat(value.fileno())
    except (AttributeError, OSError, ValueError):
        return None  # in memory (BytesIO), a reader of its own, or closed: the read says which
    size = regular_file_size(info, repr(name))
    try:
        return max(size - value.tell(), 0)
    except (AttributeError, OSError, ValueError):
        return None


def _from_file_object(value: IO[bytes], name: str | None, max_bytes: int) -> tuple[str, bytes]:
    """The name and bytes of a binary file object, read at most ``max_bytes`` + 1 bytes (one
    whose size is known is refused over the cap before any read)."""
    file_name = name or getattr(value, "name", None)
    if not isinstance(file_name, str) or not file_name:
        raise InvalidRequestError(
            "a file object to upload needs a name (open it from a path, or pass "
            "(name, bytes) or UploadFile(name, content, mime_type))"
        )
    size = _size_left(value, file_name)
    if size is not None and size > max_bytes:
        raise _too_large(upload_name(file_name), size, max_bytes)
    data = value.read(max_bytes + 1)
    if not isinstance(data, bytes):
        raise InvalidRequestError(f"{file_name!r} must be opened in binary mode ('rb')")
    if len(data) > max_bytes:
        raise _too_large(upload_name(file_name), None, max_bytes)
    return file_name, data


def _resolved_mime(file_name: str, mime_type: str | None) -> str:
    resolved = mime_type or mime_type_for(file_name) or ""
    return canonical_mime_type(resolved) if resolved else ""


def to_upload_file(
    value: FileInput,
    *,
    name: str | None = None,
    mime_type: str | None = None,
    max_bytes: int = DEFAULT_MAX_ASSET_BYTES,
) -> PreparedFile:
    """One accepted input, prepared: a path as a :class:`DiskFile` (a regular file, checked but
    not read), a file object read at most ``max_bytes`` + 1 bytes, bytes as they are.

    The MIME type is the one given, else the one the name implies; the name is reduced to its
    last path component. Type and size are checked by :func:`check_upload`.
    """
    item: Any = value  # checked at run time: callers pass anything
    if isinstance(item, (UploadFile, DiskFile)):
        if name is None and mime_type is None:
            return item
        return replace(item, name=name or item.name, mime_type=mime_type or item.mime_type)
    if isinstance(item, (str, os.PathLike)):
        path = os.fspath(item)
        if not isinstance(path, str):
            raise InvalidRequestError(f"a path to upload must be text, got {path!r}")
        file_name = upload_name(name or path)
        return DiskFile(file_name, FilePart.check(path), _resolved_mime(file_name, mime_type))
    if isinstance(item, tuple):
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
        file_name, data = _from_file_object(item, name, max_bytes)
    else:
        raise InvalidRequestError(
            f"cannot upload a {type(item).__name__}: pass a path, a binary file object, "
            "(name, bytes) or an UploadFile"
        )
    file_name = upload_name(file_name)
    return UploadFile(file_name, data, _resolved_mime(file_name, mime_type))


def check_upload(files: Sequence[PreparedFile], max_bytes: int) -> None:
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
        if not file.size:
            raise InvalidRequestError(f"cannot upload {file.name!r}: the file is empty")
        if file.size > max_bytes:
            raise _too_large(file.name, file.size, max_bytes)


def _quoted(value: str) -> str:
    # RFC 7578: names are quoted strings; browsers percent-encode quotes and line breaks.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def multipart_body(
    files: Sequence[PreparedFile], boundary: str | None = None
) -> tuple[StreamedBody, str]:
    """The ``multipart/form-data`` body (one ``files`` part per file) and its content type. A
    file from disk is a part read when the body is sent; bytes are not copied."""
    boundary = boundary or f"lyzr-stream-{uuid.uuid4().hex}"
    marker = f"--{boundary}\r\n".encode()
    parts: list[BodyPart] = []
    lead = b""
    for file in files:
        head = (
            f'Content-Disposition: form-data; name="files"; filename="{_quoted(file.name)}"\r\n'
            f"Content-Type: {file.mime_type}\r\n\r\n"
        ).encode()
        content = file.content if isinstance(file, UploadFile) else file.source
        parts += [lead + marker + head, content]
        lead = b"\r\n"
    parts.append(lead + f"--{boundary}--\r\n".encode())
    return StreamedBody(tuple(parts)), f"multipart/form-data; boundary={boundary}"


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_upload_response(body: bytes, files: Sequence[PreparedFile]) -> list[Asset]:
    """The assets of an upload answer, in the order of ``files``.

    Raises :class:`AssetUploadError` naming every file the service refused, and
    :class:`~lyzr_stream._errors.APIResponseValidationError` when the answer is not the
    documented shape or has more results than files were sent.
    """
    document = decode(body, what="the upload answer")
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise APIResponseValidationError(
            "the upload answer has no 'results' list", body_excerpt=excerpt(body)
        )
    if len(results) > len(files):
        raise APIResponseValidationError(
            f"the upload answer has {len(results)} results for {len(files)} file(s) sent",
            body_excerpt=excerpt(body),
        )
    assets: list[Asset] = []
    failures: list[FailedUpload] = []
    for index, result in enumerate(results):
        name = optional_str(result.get("file_name")) or files[index].name
        asset_id = optional_str(result.get("asset_id") or result.get("id"))
        if result.get("success") is False or asset_id is None:
            error = result.get("error") or result.get("detail") or "no asset id returned"
            failures.append(FailedUpload(name, str(error)))
            continue
        assets.append(
            Asset(
                asset_id=asset_id,
                name=name,
                type=optional_str(result.get("type")),
                size=_optional_int(result.get("file_size")),
                url=optional_str(result.get("url")),
                mime_type=optional_str(result.get("mime_type")),
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
    """The upload of ``files`` (one input or a sequence of them), checked now: nothing is sent
    for a file the service would refuse, and a path is not read until the request streams it.
    The call's ``parse`` names each file."""
    given: Any = files  # checked at run time: callers pass anything
    if isinstance(given, (str, bytes, tuple)) or not isinstance(given, Sequence):
        given = [given]
    prepared = [to_upload_file(f, max_bytes=max_bytes) for f in given]
    check_upload(prepared, max_bytes)
    parse = partial(parse_upload_response, files=prepared)
    return Route.post_content(FILES, UPLOAD_PATH, multipart_body(prepared), parse)
