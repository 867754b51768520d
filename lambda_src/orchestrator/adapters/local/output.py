"""A run's output on its way to the log: both pipes copied as the bytes arrive (no lines,
nothing changed but secret values masked, per stream), by a thread that stops at the end of
both pipes, or when told to stop waiting for a holder of the pipes no one could find."""

from __future__ import annotations

import os
import selectors
import subprocess
import threading
from collections.abc import Callable

from orchestrator.adapters.local.logfiles import STDERR, STDOUT
from orchestrator.masking import Masker

READ_BYTES = 256 * 1024

Store = Callable[[int, bytes], None]  # (STDOUT or STDERR, bytes) -> into the log


class OutputPump:
    """`start()`, then `finish(drain_seconds)` once every process of the run is gone."""

    def __init__(
        self, process: subprocess.Popen[bytes], store: Store, secret_values: list[bytes]
    ) -> None:
        self._process = process
        self._store = store
        self._maskers = (
            {STDOUT: Masker(secret_values), STDERR: Masker(secret_values)} if secret_values else {}
        )
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._pump, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self, drain_seconds: float) -> None:
        """Wait for what is left in the pipes (a pipe buffer at most, once the run's
        processes are gone); past `drain_seconds`, stop reading. Closes the pipes."""
        self._thread.join(drain_seconds)
        if self._thread.is_alive():  # a process we could not find holds the pipes
            os.write(self._wake_write, b"x")
            self._thread.join()
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)
        for pipe in (self._process.stdout, self._process.stderr):
            if pipe is not None:
                pipe.close()

    def _pump(self) -> None:
        try:
            self._copy_pipes()
        finally:
            for kind, masker in self._maskers.items():
                self._store(kind, masker.flush())

    def _copy_pipes(self) -> None:
        process = self._process
        assert process.stdout is not None and process.stderr is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout.fileno(), selectors.EVENT_READ, STDOUT)
            selector.register(process.stderr.fileno(), selectors.EVENT_READ, STDERR)
            selector.register(self._wake_read, selectors.EVENT_READ, None)
            while len(selector.get_map()) > 1:
                for key, _ in selector.select():
                    if key.data is None:
                        return
                    data = os.read(key.fd, READ_BYTES)
                    masker = self._maskers.get(key.data)
                    if not data:
                        selector.unregister(key.fd)
                        if masker is not None:
                            self._store(key.data, masker.flush())
                        continue
                    self._store(key.data, masker.feed(data) if masker is not None else data)
