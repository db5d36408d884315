"""The ``lyzr-stream`` command as the CLI tests run it, and its environment for an emulator."""

from __future__ import annotations

import os
import sys

from lyzr_stream.emulator import Emulator

CLI = [sys.executable, "-m", "lyzr_stream"]


def cli_env(em: Emulator, **extra: str) -> dict[str, str]:
    """This process's environment without ``LYZR_*``, pointed at ``em``, colours off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYZR_")}
    env.update(LYZR_API_KEY=em.api_key, LYZR_BASE_URL=em.base_url, NO_COLOR="1", **extra)
    return env
