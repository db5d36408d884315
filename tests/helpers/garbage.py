"""Garbage collection in a process that also runs the emulator's server thread.

``gc.collect()`` does nothing when another thread is already collecting (CPython returns at once
while its collector runs finalizers that release the GIL), and the in-process emulator allocates
enough to start collections of its own. A test that asserts what the collector must have done
therefore collects again until that holds, within a few seconds, instead of trusting one call.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

__all__ = ["collect_until"]


def collect_until(done: Callable[[], bool], *, within: float = 5.0) -> bool:
    """Run ``gc.collect()`` until ``done()`` is true or ``within`` seconds have passed; the
    last ``done()``. The caller asserts it, so a real leak still fails."""
    until = time.monotonic() + within
    while True:
        gc.collect()
        if done() or time.monotonic() >= until:
            return done()
        time.sleep(0.02)
