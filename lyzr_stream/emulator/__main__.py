"""``python -m lyzr_stream.emulator [--port 8080] [--host 127.0.0.1] [--api-key K]``."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading

from .server import Emulator
from .state import EMULATOR_API_KEY


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m lyzr_stream.emulator", description="Serve the agent-service emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-key", default=EMULATOR_API_KEY)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument(
        "--events-per-write",
        type=int,
        default=1,
        help="stream events per socket write (benchmarks batch many so the client is measured)",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="serve with uvloop and httptools (pip install uvloop httptools), as benchmarks do",
    )
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Emulator(
        args.api_key,
        args.host,
        args.port,
        args.format,
        events_per_write=args.events_per_write,
        fast=args.fast,
    ) as emulator:
        print(f"emulator listening on {emulator.base_url}", flush=True)
        print(f"api key: {emulator.api_key}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()
