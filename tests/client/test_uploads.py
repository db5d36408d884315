"""Uploads over sockets: only regular files and bytes go out, sizes are known before reading,
a path is streamed (never held whole, read again by a retry), names are plain, and an answer
that does not match the files sent is a typed error."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from lyzr_stream import APIResponseValidationError, InvalidRequestError, LyzrClient
from lyzr_stream._http.limits import NOT_GIVEN
from lyzr_stream.emulator import Emulator
from lyzr_stream.emulator.assets import AssetStore

pytestmark = pytest.mark.skipif(os.name != "posix", reason="pipes and devices need POSIX")

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
MIB = 1024 * 1024
T = TypeVar("T")


def _peak_memory(action: Callable[[], T]) -> tuple[T, int]:
    """``action``'s result and the peak of Python memory allocated while it ran (the emulator
    runs in this process: its allocations count too)."""
    tracemalloc.start()
    try:
        return action(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _uploads(emulator: Emulator) -> list[str]:
    return [r.path for r in emulator.state.requests if r.path == "/v3/assets/upload"]


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "pipe.pdf"
    os.mkfifo(path)
    yield path


@pytest.mark.timeout(10)
def test_dev_zero_and_a_named_pipe_are_refused_at_once(
    client: LyzrClient, lyzr_emulator: Emulator, fifo: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidRequestError, match=r"'/dev/zero': it is a character device"):
        client.upload_assets(["/dev/zero"])
    with pytest.raises(InvalidRequestError, match=rf"{fifo.name}': it is a pipe \(FIFO\)"):
        client.upload_assets(fifo)
    with open("/dev/zero", "rb") as device:
        with pytest.raises(InvalidRequestError, match=r"'/dev/zero': it is a character device"):
            client.upload_assets(device)

    async def refused_async() -> None:
        with pytest.raises(InvalidRequestError, match="pipe"):
            await client.aupload_assets([str(fifo)])

    asyncio.run(refused_async())
    assert time.monotonic() - started < 2
    assert _uploads(lyzr_emulator) == []  # refused before anything was sent


def _refused(action: Callable[[], object]) -> tuple[str, int]:
    """The message of the InvalidRequestError ``action`` raises, and the peak of Python memory
    allocated until then."""
    tracemalloc.start()
    try:
        action()
    except InvalidRequestError as exc:
        return str(exc), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    raise AssertionError("not refused")


@pytest.mark.timeout(10)
def test_a_1_gib_file_over_the_cap_is_refused_without_reading_it(
    client: LyzrClient, lyzr_emulator: Emulator, tmp_path: Path
) -> None:
    big = tmp_path / "big.pdf"
    with big.open("wb") as out:
        out.truncate(1024 * MIB)  # sparse: no disk used
    message, peak = _refused(lambda: client.upload_assets(big))
    assert "'big.pdf': 1073741824 bytes is over the 10485760-byte cap" in message
    with big.open("rb") as opened:
        message, peak_object = _refused(lambda: client.upload_assets(opened))
        assert "'big.pdf': 1073741824 bytes is over the 10485760-byte cap" in message
        assert opened.tell() == 0  # its size was enough
    peak = max(peak, peak_object)
    print(f"\npeak Python memory refusing a 1 GiB file: {peak / 1024:.0f} KiB")
    assert peak < 2 * MIB
    assert _uploads(lyzr_emulator) == []


def _write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size // MIB):
            block = os.urandom(MIB)
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


@pytest.mark.timeout(30)
def test_a_20_mib_file_is_streamed_intact_with_bounded_memory(
    client: LyzrClient, lyzr_emulator: Emulator, tmp_path: Path
) -> None:
    client.upload_assets(("warm-up.pdf", PDF))  # the emulator's first form imports modules
    lyzr_emulator.reset()
    path = tmp_path / "scan.pdf"
    sha256 = _write_random(path, 20 * MIB)
    [asset], peak = _peak_memory(lambda: client.upload_assets(path, max_bytes=32 * MIB))
    [stored] = AssetStore.of(lyzr_emulator.app).uploads
    assert (asset.name, asset.size) == ("scan.pdf", 20 * MIB)
    assert (stored.file_name, stored.size, stored.sha256) == ("scan.pdf", 20 * MIB, sha256)
    print(f"\npeak Python memory streaming 20 MiB (client and emulator): {peak / MIB:.1f} MiB")
    assert peak < 6 * MIB  # reading it whole would take 20 MiB at least

    async def upload_async() -> None:
        [again] = await client.aupload_assets([path], max_bytes=32 * MIB)
        assert again.size == 20 * MIB

    _, async_peak = _peak_memory(lambda: asyncio.run(upload_async()))
    assert AssetStore.of(lyzr_emulator.app).uploads[-1].sha256 == sha256
    assert async_peak < 6 * MIB


def test_a_retry_reads_the_file_again(lyzr_emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "retried.pdf"
    sha256 = _write_random(path, 1 * MIB)
    flaky = {"x-emulator-fault": "fail-first:2:503"}
    with LyzrClient(
        api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, default_headers=flaky
    ) as client:
        assets = client.upload_assets([path, ("note.pdf", PDF)])
    assert len(_uploads(lyzr_emulator)) == 3
    stored = AssetStore.of(lyzr_emulator.app).uploads
    assert [(s.file_name, s.sha256) for s in stored] == [
        ("retried.pdf", sha256),
        ("note.pdf", hashlib.sha256(PDF).hexdigest()),
    ]
    assert [a.name for a in assets] == ["retried.pdf", "note.pdf"]


def test_more_results_than_files_is_a_typed_error(lyzr_emulator: Emulator) -> None:
    extra = {"x-emulator-fault": "extra-result"}
    with LyzrClient(
        api_key=lyzr_emulator.api_key, base_url=lyzr_emulator.base_url, default_headers=extra
    ) as client:
        with pytest.raises(APIResponseValidationError, match=r"2 results for 1 file\(s\) sent"):
            client.upload_assets(("a.pdf", PDF))


def test_names_are_reduced_to_their_last_component_and_nul_refused(
    client: LyzrClient, lyzr_emulator: Emulator, tmp_path: Path
) -> None:
    assets = client.upload_assets(
        [("../../etc/passwd.pdf", PDF), ("C:\\Users\\ada\\report.pdf", PDF)]
    )
    assert [a.name for a in assets] == ["passwd.pdf", "report.pdf"]
    stored = AssetStore.of(lyzr_emulator.app).uploads
    assert [s.file_name for s in stored] == ["passwd.pdf", "report.pdf"]
    with pytest.raises(InvalidRequestError, match="NUL character"):
        client.upload_assets(("report\0.exe.pdf", PDF))
    with pytest.raises(InvalidRequestError, match="NUL character"):
        client.upload_assets(str(tmp_path / "a\0.pdf"))
    assert len(_uploads(lyzr_emulator)) == 1


def test_a_file_changed_after_its_check_ends_the_request_without_retry(
    client: LyzrClient, lyzr_emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "draft.pdf"
    path.write_bytes(PDF)
    route = client._upload_route(path, None)  # checked now, sent below
    path.write_bytes(PDF + b"% edited\n")
    with pytest.raises(InvalidRequestError, match=r"draft\.pdf'.*changed after it was checked"):
        client._send(route, NOT_GIVEN, None)

    async def sent_async() -> None:
        route = client._upload_route(path, None)
        path.write_bytes(PDF)
        with pytest.raises(InvalidRequestError, match="changed after it was checked"):
            await client._asend(route, NOT_GIVEN, None)

    asyncio.run(sent_async())
    # The client hung up mid-request: the emulator may record it a moment after the raise.
    deadline = time.monotonic() + 2
    while len(_uploads(lyzr_emulator)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert len(_uploads(lyzr_emulator)) == 2  # one attempt each: the caller's error, not retried
    assert AssetStore.of(lyzr_emulator.app).uploads == []
