"""The emulator in its own process, so that only the client under test uses this process's CPU.

``python -m benchmarks.emulator_process [--events-per-write N] [--fast]`` serves the shipped
emulator plus the benchmarks' OpenAI-compatible route (``benchmarks.openai_compat``, for
ChatOpenAI), with uvloop and httptools if ``--fast``, and prints ``emulator listening on <url>``.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from lyzr_stream.emulator import EMULATOR_API_KEY, Emulator

from .openai_compat import routes as openai_routes

API_KEY = EMULATOR_API_KEY


@contextmanager
def emulator_process(events_per_write: int = 1, fast: bool = True) -> Iterator[str]:
    """Start ``python -m benchmarks.emulator_process`` on a free port; yield its base URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.emulator_process",
            "--events-per-write",
            str(events_per_write),
            *(["--fast"] if fast else []),
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emulator_process")
    parser.add_argument("--events-per-write", type=int, default=1)
    parser.add_argument("--fast", action="store_true", help="uvloop and httptools")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    emulator = Emulator(events_per_write=args.events_per_write, fast=args.fast)
    emulator.app.router.routes.extend(openai_routes)  # before start: the app is not built yet
    with emulator:
        print(f"emulator listening on {emulator.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()
