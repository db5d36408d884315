"""The emulator in its own process, so that only the client under test uses this process's CPU."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from lyzr_stream.emulator import EMULATOR_API_KEY


@contextmanager
def emulator_process(events_per_write: int = 1) -> Iterator[str]:
    """Start ``python -m lyzr_stream.emulator --port 0``; yield its base URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lyzr_stream.emulator",
            "--port",
            "0",
            "--events-per-write",
            str(events_per_write),
            "--fast",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


API_KEY = EMULATOR_API_KEY
