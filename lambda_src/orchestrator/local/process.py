"""Running the local server as a process: one server per data directory (a lock file),
its state file (pid, url), recovery of what a dead server left, a clean stop on SIGTERM or
SIGINT, and the periodic purge of expired uploads and old logs."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from orchestrator.adapters.local.private import private_file, secure_data_dir
from orchestrator.local.platform import LocalPlatform, LocalSettings
from orchestrator.local.server import LocalApiServer, ServerLimits, listening_socket

logger = logging.getLogger("mycli.server")

UPLOAD_PURGE_INTERVAL_SECONDS = 3600
QUEUE_SWEEP_INTERVAL_SECONDS = 1.0
STATE_FILE = "server.json"
LOCK_FILE = "server.lock"
# The server process's exit status when it cannot listen (`mycli local up` reads it).
EXIT_PORT_IN_USE = 5
EXIT_CANNOT_LISTEN = 2


class CannotListen(Exception):
    """`host:port` cannot be listened on: in use by another program, or not this machine's."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        super().__init__(f"cannot listen on {host} port {port}: {error.strerror or error}")
        self.host = host
        self.port = port
        self.in_use = error.errno == errno.EADDRINUSE

    @property
    def exit_status(self) -> int:
        return EXIT_PORT_IN_USE if self.in_use else EXIT_CANNOT_LISTEN


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, taken before anything else starts; raises CannotListen."""
    try:
        return listening_socket(host, port, ServerLimits.from_environment().backlog)
    except OSError as error:
        raise CannotListen(host, port, error) from None


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """What the server wrote once it was listening (pid, url), if readable."""
    try:
        state: dict[str, Any] = json.loads(state_path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    return state


def running_state(data_dir: Path) -> dict[str, Any] | None:
    """The state of the server that holds `data_dir`, or None when none does."""
    lock_path = data_dir / LOCK_FILE
    if not lock_path.exists():
        return None
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_state(data_dir) or {"url": None, "pid": None}
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    secure_data_dir(data_dir)
    with private_file(data_dir / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"mycli: error: another server is using {data_dir}") from None
        yield


def serve(
    settings: LocalSettings,
    host: str,
    port: int,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run until SIGTERM or SIGINT: recover what a dead server left, serve, stop cleanly.
    Raises CannotListen, before touching any execution, when `host:port` is taken."""
    with _exclusive(settings.data_dir):
        listener = bind(host, port)
        platform = LocalPlatform(settings)
        platform.recover()
        _purge_uploads_periodically(platform)
        sweeping = _sweep_queues_periodically(platform)
        server = LocalApiServer(
            platform.services,
            host,
            port,
            uploads=platform.uploads_store,
            clock=platform.clock,
            on_stopping=platform.log_waiter.release_all,
            listener=listener,
        )
        state = {"pid": os.getpid(), "url": server.url, "data_dir": str(settings.data_dir)}
        temporary = state_path(settings.data_dir).with_suffix(".tmp")
        with private_file(temporary, "w") as out:
            out.write(json.dumps(state))
        temporary.replace(state_path(settings.data_dir))

        def stop(signum: int, frame: object) -> None:
            server.stop_soon()

        # uvicorn takes these over while it serves, and calls them again once it stopped.
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        logger.info(
            "mycli local server listening on %s (data in %s)", server.url, settings.data_dir
        )
        if on_ready is not None:
            on_ready(server.url)
        try:
            server.serve_forever()
        finally:
            sweeping.set()  # no queued run starts while the server stops
            platform.shutdown()
            state_path(settings.data_dir).unlink(missing_ok=True)
            logger.info("mycli local server stopped")


def _sweep_queues_periodically(platform: LocalPlatform) -> threading.Event:
    """Every second: start queued runs whose lock freed (a hold that expired), end waits
    that expired. Set the returned event to stop."""
    stop = threading.Event()

    def sweep_forever() -> None:
        while not stop.wait(QUEUE_SWEEP_INTERVAL_SECONDS):
            try:
                platform.sweep_queues()
            except Exception:  # the next sweep tries again
                logger.exception("sweeping the lock queues failed")

    threading.Thread(target=sweep_forever, name="queue-sweep", daemon=True).start()
    return stop


def _purge_uploads_periodically(platform: LocalPlatform) -> None:
    def purge_forever() -> None:
        while True:
            removed = platform.purge_uploads()
            if removed:
                logger.info(
                    "removed %d expired %s", removed, "upload" if removed == 1 else "uploads"
                )
            pruned = platform.purge_logs()
            if pruned:
                logger.info(
                    "removed %d %s past the retention", pruned, "log" if pruned == 1 else "logs"
                )
            time.sleep(UPLOAD_PURGE_INTERVAL_SECONDS)

    threading.Thread(target=purge_forever, name="upload-purge", daemon=True).start()
