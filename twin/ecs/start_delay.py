"""Fargate's start latency, modelled: how long a RunTask'd task stays PROVISIONING, then
PENDING, before its containers start (half the delay each; Fargate takes 30 to 60 s to attach
a network interface and pull the image). Every task waits it, cold or warm, as on Fargate;
StopTask during it stops the task before any container starts.

The setting is a file in the twin's run directory, `task-start-delay` (seconds, a decimal
number), written by `aws-twin up --task-start-delay` and `aws-twin set --task-start-delay`,
and read at each RunTask: a test or bench changes it on a running twin without restarting
it, and the tasks already started keep the delay they began with."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

START_DELAY_FILE = "task-start-delay"
MAX_START_DELAY_SECONDS = 600.0
logger = logging.getLogger(__name__)


def parse_start_delay(text: str) -> float:
    """Seconds from 0 to MAX_START_DELAY_SECONDS; ValueError (saying why) otherwise."""
    try:
        seconds = float(text.strip())
    except ValueError:
        raise ValueError(f"not a number of seconds: {text.strip()!r}") from None
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_START_DELAY_SECONDS:
        raise ValueError(f"{text.strip()} is not within 0 to {MAX_START_DELAY_SECONDS:g} seconds")
    return seconds


class StartDelaySetting:
    """The run directory's setting; calling it reads the delay (0 when unset)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / START_DELAY_FILE

    def __call__(self) -> float:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return 0.0
        try:
            return parse_start_delay(text)
        except ValueError as error:  # written by hand: start at once, and say so
            logger.warning("%s: %s; tasks start at once", self.path, error)
            return 0.0

    def write(self, seconds: float) -> None:
        """Set the delay (atomically: a RunTask meanwhile reads the old or the new value)."""
        parse_start_delay(str(seconds))
        partial = self.path.with_name(self.path.name + ".part")
        partial.write_text(f"{seconds:g}\n")
        os.replace(partial, self.path)
