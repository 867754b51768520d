"""One container's process: started in a session of its own (its process group stands for
the container's processes), stdin from /dev/null (ECS tasks are not interactive), stdout and
stderr captured apart, byte for byte, into the task's log directory (as the awslogs driver
would ship them) and to an optional sink for CloudWatch-like forwarding."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from twin.ecs.volumes import START_FAILED, Launch

READ_SIZE = 65536
PUMP_JOIN_SECONDS = 2.0
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContainerOutput:
    """Bytes a container wrote, with where the awslogs driver would have sent them."""

    task_arn: str
    container: str
    stream: str  # "stdout" or "stderr"
    data: bytes
    log_group: str | None = None
    log_stream: str | None = None


OutputSink = Callable[[ContainerOutput], None]


class StartFailure(Exception):
    """The container's process could not be started (ECS: CannotStartContainerError)."""


def exit_code_of(returncode: int) -> int:
    """A process's exit status as a container engine reports it (killed by N → 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


class ContainerProcess:
    def __init__(
        self,
        launch: Launch,
        environment: dict[str, str],
        log_dir: Path,
        template: ContainerOutput,
        on_output: OutputSink | None = None,
    ) -> None:
        self._launch = launch
        self._environment = {**environment, **launch.environment}
        self._log_dir = log_dir
        self._template = template
        self._on_output = on_output
        self._process: subprocess.Popen[bytes] | None = None
        self._pumps: list[threading.Thread] = []

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        """Start the process and its output pumps; StartFailure when it cannot start."""
        self._log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._process = subprocess.Popen(
                self._launch.argv,
                cwd=self._launch.cwd,
                env=self._environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as error:
            reason = error.strerror or str(error)
            if isinstance(error, FileNotFoundError) and error.filename == self._launch.argv[0]:
                reason = f"executable file not found: {self._launch.argv[0]}"
            raise StartFailure(reason) from error
        name = self._template.container
        for stream, pipe in (("stdout", self._process.stdout), ("stderr", self._process.stderr)):
            assert pipe is not None
            pump = threading.Thread(
                target=self._pump, args=(stream, pipe), name=f"twin-{name}-{stream}", daemon=True
            )
            pump.start()
            self._pumps.append(pump)

    def wait(self) -> int:
        """Wait for the process to end; its raw return code."""
        assert self._process is not None
        return self._process.wait()

    def start_failure(self, returncode: int) -> str | None:
        """Why the container never started, when its wrapper says so (else None)."""
        failure = self._launch.failure_file
        if returncode != START_FAILED or failure is None or not failure.exists():
            return None
        return failure.read_text(errors="replace").strip() or "the container could not start"

    def terminate(self) -> None:
        """SIGTERM to the container's main process, as `docker stop` sends it."""
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)

    def kill_group(self) -> None:
        """SIGKILL to every process left in the container's group (the main one included):
        what the end of a container's PID namespace does."""
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)

    def finish_output(self) -> None:
        """Wait (briefly) for the last output to be written."""
        for pump in self._pumps:
            pump.join(PUMP_JOIN_SECONDS)

    def _pump(self, stream: str, pipe: IO[bytes]) -> None:
        path = self._log_dir / f"{self._template.container}.{stream}"
        with pipe, path.open("ab", buffering=0) as log:
            while data := os.read(pipe.fileno(), READ_SIZE):
                log.write(data)
                if self._on_output is not None:
                    self._forward(stream, data)

    def _forward(self, stream: str, data: bytes) -> None:
        template = self._template
        try:
            assert self._on_output is not None
            self._on_output(
                ContainerOutput(
                    task_arn=template.task_arn,
                    container=template.container,
                    stream=stream,
                    data=data,
                    log_group=template.log_group,
                    log_stream=template.log_stream,
                )
            )
        except Exception:  # the log file keeps the output; forwarding is best effort
            logger.exception("the output sink failed for %s", template.container)
