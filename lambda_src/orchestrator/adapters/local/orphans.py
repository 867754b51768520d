"""Reaping the orphans a subreaper server adopts (a run's double-forked processes): every
exited child that is not one of the runs' main processes (their watchers reap those)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable

from orchestrator.adapters.local.processes import zombie_children

ORPHAN_REAP_INTERVAL_SECONDS = 5.0


def reap_forever(reap: Callable[[], None]) -> None:
    """Call `reap` every ORPHAN_REAP_INTERVAL_SECONDS, for the server's life."""
    while True:
        time.sleep(ORPHAN_REAP_INTERVAL_SECONDS)
        reap()


def reap_orphans(ours: set[int]) -> None:
    """Reap the exited children whose pids are not in `ours` (the runs' main processes)."""
    for pid in zombie_children():
        if pid not in ours:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
