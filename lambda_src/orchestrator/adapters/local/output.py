"""A local run's output on its way to the log: the command process's two pipes, read by
the shared byte pump (orchestrator.agent.pump: exact bytes, streams apart, secret values
masked per stream), as the AWS run agent reads its FIFOs."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from orchestrator.adapters.local.logfiles import STDERR, STDOUT
from orchestrator.agent.pump import OutputPump

Store = Callable[[int, bytes], None]  # (STDOUT or STDERR, bytes) -> into the log


class ProcessOutput:
    """`start()`, then `finish(drain_seconds)` once every process of the run is gone."""

    def __init__(
        self, process: subprocess.Popen[bytes], store: Store, secret_values: list[bytes]
    ) -> None:
        assert process.stdout is not None and process.stderr is not None
        self._process = process
        self._pump = OutputPump(
            {STDOUT: process.stdout.fileno(), STDERR: process.stderr.fileno()},
            store,
            secret_values,
        )

    def start(self) -> None:
        self._pump.start()

    def finish(self, drain_seconds: float) -> None:
        """Drain (see OutputPump.finish), then close the pipes."""
        self._pump.finish(drain_seconds)
        for pipe in (self._process.stdout, self._process.stderr):
            if pipe is not None:
                pipe.close()
