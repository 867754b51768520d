"""A run's output on its way to the store: both streams copied as the bytes arrive (no
lines, nothing changed but secret values masked, per stream), by a thread that stops at
the end of every stream, or when told to stop waiting for a holder of the pipes no one
could find. Shared by the embedded runner (pipes of the command's process) and the run
agent (the FIFOs the command container writes to). Standard library only."""

from __future__ import annotations

import os
import selectors
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

from orchestrator.masking import Masker

READ_BYTES = 256 * 1024

Stream = TypeVar("Stream", bound=Hashable)


class OutputPump(Generic[Stream]):
    """Reads each `sources` fd (keyed by its stream) into `store(stream, bytes)`.
    `start()`, then `finish(drain_seconds)` once every writer of the streams is gone (or
    should be). The fds stay the caller's: it closes them after `finish`."""

    def __init__(
        self,
        sources: Mapping[Stream, int],
        store: Callable[[Stream, bytes], None],
        secret_values: list[bytes],
    ) -> None:
        self._sources = dict(sources)
        self._store = store
        self._maskers = (
            {stream: Masker(secret_values) for stream in self._sources} if secret_values else {}
        )
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._pump, name="output-pump", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self, drain_seconds: float) -> None:
        """Wait for what is left in the streams (a pipe buffer at most, once their writers
        are gone); past `drain_seconds`, stop reading."""
        self._thread.join(drain_seconds)
        if self._thread.is_alive():  # a process we could not find holds the pipes
            os.write(self._wake_write, b"x")
            self._thread.join()
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)

    def ended(self) -> bool:
        """Whether every stream has reached its end (no writer holds any of them)."""
        return self._thread.ident is not None and not self._thread.is_alive()

    def _pump(self) -> None:
        try:
            self._copy()
        finally:
            for stream, masker in self._maskers.items():
                self._store(stream, masker.flush())

    def _copy(self) -> None:
        with selectors.DefaultSelector() as selector:
            for stream, fd in self._sources.items():
                selector.register(fd, selectors.EVENT_READ, (stream,))
            selector.register(self._wake_read, selectors.EVENT_READ, None)
            while len(selector.get_map()) > 1:
                for key, _ in selector.select():
                    if key.data is None:
                        return
                    stream = key.data[0]
                    try:
                        data = os.read(key.fd, READ_BYTES)
                    except BlockingIOError:  # a non-blocking FIFO with nothing after all
                        continue
                    masker = self._maskers.get(stream)
                    if not data:
                        selector.unregister(key.fd)
                        if masker is not None:
                            self._store(stream, masker.flush())
                        continue
                    self._store(stream, masker.feed(data) if masker is not None else data)
