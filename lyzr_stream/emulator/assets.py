"""The upload route ``POST /v3/assets/upload`` and the ``assets`` agent that reads uploads back.

Multipart, one ``files`` part per file (parsed by Starlette, which needs ``python-multipart``).
Each file gets its own result: ``success: true`` with a fresh ``asset_id``, or ``success: false``
with an ``error`` when the type is not one Lyzr takes, the file is empty, or its name starts with
``fail`` (a file named to fail, for tests). The ``x-emulator-fault`` header's status, ``html``
and ``fail-first`` faults apply as on the chat routes; ``extra-result`` adds a result for a file
that was not sent. Files are hashed as they arrive, never held whole. Every upload is kept in
the app's :class:`AssetStore` (``AssetStore.of(emulator.app).uploads``), and the v3 routes
describe a request's ``assets`` ids from it, so the ``assets`` agent can say which files it
received.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._routes.assets import ALLOWED_MIME_TYPES, canonical_mime_type
from .agents import AgentCall, Answer, agent, words
from .http import AppStore, check_api_key, fault_of, injected_fault, record

__all__ = [
    "AssetStore",
    "StoredAsset",
    "describe_assets",
    "routes",
]


@dataclass(frozen=True)
class StoredAsset:
    """One file the upload route received, and what it answered for it."""

    file_name: str
    mime_type: str
    size: int
    sha256: str
    asset_id: str | None
    error: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "asset_id": self.asset_id,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "file_size": self.size,
        }


class AssetStore(AppStore, attribute="lyzr_assets"):
    """The uploads of one emulator app (thread-safe: tests read it from their own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: list[StoredAsset] = []
        self._by_id: dict[str, StoredAsset] = {}

    def add(self, asset: StoredAsset) -> None:
        with self._lock:
            self._uploads.append(asset)
            if asset.asset_id is not None:
                self._by_id[asset.asset_id] = asset

    @property
    def uploads(self) -> list[StoredAsset]:
        """Every file received, in order, the refused ones included."""
        with self._lock:
            return list(self._uploads)

    def get(self, asset_id: str) -> StoredAsset | None:
        with self._lock:
            return self._by_id.get(asset_id)


def _refusal(name: str, mime: str, size: int) -> str | None:
    if name.lower().startswith("fail"):
        return "could not process the file"
    if mime not in ALLOWED_MIME_TYPES:
        return f"unsupported file type {mime or '(none)'}"
    if not size:
        return "the file is empty"
    return None


async def _size_and_hash(part: UploadFile) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    while chunk := await part.read(64 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _success(asset_id: str, name: str, mime: str, size: int) -> dict[str, Any]:
    return {
        "success": True,
        "asset_id": asset_id,
        "file_name": name,
        "type": "image" if mime.startswith("image/") else "document",
        "file_size": size,
        "url": f"https://assets.emulator.invalid/{asset_id}/{name}",
        "mime_type": mime,
    }


async def _store_one(store: AssetStore, part: UploadFile) -> dict[str, Any]:
    size, sha256 = await _size_and_hash(part)
    name = part.filename or "file"
    mime = canonical_mime_type(part.content_type or "")
    error = _refusal(name, mime, size)
    asset_id = None if error else uuid.uuid4().hex
    store.add(StoredAsset(name, mime, size, sha256, asset_id, error))
    if error is not None or asset_id is None:
        return {"success": False, "file_name": name, "error": error}
    return _success(asset_id, name, mime, size)


async def upload(request: Request) -> Response:
    await record(request, read_body=False)  # multipart: parsed as it streams in
    refused = check_api_key(request)
    if refused is not None:
        return refused
    early = await injected_fault(request, "upload")
    if early is not None:
        return early
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return JSONResponse({"detail": "Expected multipart/form-data"}, status_code=422)
    try:
        form = await request.form()
    except ClientDisconnect:  # the client gave up mid-body (a file it refused to finish)
        return Response(status_code=499)
    parts = form.getlist("files")
    if not parts or not all(isinstance(p, UploadFile) for p in parts):
        return JSONResponse(
            {"detail": [{"loc": ["body", "files"], "msg": "Field required", "type": "missing"}]},
            status_code=422,
        )
    store = AssetStore.of(request.app)
    results = [await _store_one(store, p) for p in parts if isinstance(p, UploadFile)]
    await form.close()
    fault = fault_of(request)
    if fault is not None and fault.kind == "extra-result":
        results.append(_success(uuid.uuid4().hex, "never-sent.pdf", "application/pdf", 1))
    return JSONResponse({"results": results})


def describe_assets(request: Request, asset_ids: object) -> tuple[Mapping[str, Any], ...]:
    """What the agent learns of a request's ``assets``: each id's file, or ``unknown``."""
    if not isinstance(asset_ids, Sequence) or isinstance(asset_ids, str):
        return ()
    store = AssetStore.of(request.app)
    described: list[Mapping[str, Any]] = []
    for asset_id in asset_ids:
        stored = store.get(asset_id) if isinstance(asset_id, str) else None
        described.append(stored.describe() if stored else {"asset_id": asset_id, "unknown": True})
    return tuple(described)


@agent("assets")
def _assets(call: AgentCall) -> Answer:
    """Says which assets arrived with the message (names, types, sizes, ids)."""
    if not call.assets:
        return Answer(words(f"No files. You said: {call.message}"))
    parts = []
    for asset in call.assets:
        if asset.get("unknown"):
            parts.append(f"unknown asset {asset['asset_id']}")
        else:
            parts.append(
                f"{asset['file_name']} ({asset['mime_type']}, {asset['file_size']} bytes, "
                f"id {asset['asset_id']})"
            )
    return Answer(words(f"I received {len(parts)} file(s): " + "; ".join(parts) + "."))


routes = [Route("/v3/assets/upload", upload, methods=["POST"])]
