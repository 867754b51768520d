"""The awslogs log driver for the stand-in's containers: what a container writes goes, one
event per line (the driver's split; a line's newline is not kept), to the log group and
stream its definition names, in moto's CloudWatch Logs. Lines are sent from one thread, in
order, at most `flush_seconds` after they were written; a partial line is sent on flush."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from typing import Any

from twin.ecs import ContainerOutput

logger = logging.getLogger("twin.awslogs")
FLUSH_SECONDS = 0.2
MAX_EVENT_BYTES = 256 * 1024 - 26


class AwsLogsDriver:
    """`on_output` is the stand-in's output sink; `logs` a boto3 CloudWatch Logs client."""

    def __init__(self, logs: Any, flush_seconds: float = FLUSH_SECONDS) -> None:
        self._logs = logs
        self._flush_seconds = flush_seconds
        self._queue: queue.Queue[ContainerOutput | threading.Event | None] = queue.Queue()
        self._partial: dict[tuple[str, str, str], bytes] = {}
        self._streams: set[tuple[str, str]] = set()
        self._thread = threading.Thread(target=self._run, name="twin-awslogs", daemon=True)
        self._thread.start()

    def on_output(self, output: ContainerOutput) -> None:
        if output.log_group and output.log_stream:
            self._queue.put(output)

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until everything written so far is in CloudWatch Logs (the stand-in's
        STOPPED event is delivered after its containers' output, as with a blocking driver)."""
        sent = threading.Event()
        self._queue.put(sent)
        sent.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        closing = False
        while not closing:
            deadline = time.monotonic() + self._flush_seconds
            batch: dict[tuple[str, str], list[dict[str, Any]]] = {}
            drained: threading.Event | None = None
            while (left := deadline - time.monotonic()) > 0:
                try:
                    output = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if output is None:
                    closing = True
                    break
                if isinstance(output, threading.Event):
                    drained = output
                    break
                self._split(output, batch)
            self._flush_partials(batch)
            for (group, stream), events in batch.items():
                self._put(group, stream, events)
            if drained is not None:
                drained.set()

    def _split(self, output: ContainerOutput, batch: dict[tuple[str, str], list[Any]]) -> None:
        group, stream = str(output.log_group), str(output.log_stream)
        key = (group, stream, output.stream)
        data = self._partial.pop(key, b"") + output.data
        *lines, rest = data.split(b"\n")
        if rest:
            self._partial[key] = rest
        stamp = int(time.time() * 1000)
        for line in lines:
            batch.setdefault((group, stream), []).append(_event(line, stamp))

    def _flush_partials(self, batch: dict[tuple[str, str], list[Any]]) -> None:
        stamp = int(time.time() * 1000)
        for (group, stream, _), rest in self._partial.items():
            batch.setdefault((group, stream), []).append(_event(rest, stamp))
        self._partial.clear()

    def _put(self, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        try:
            if (group, stream) not in self._streams:
                with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
                    self._logs.create_log_stream(logGroupName=group, logStreamName=stream)
                self._streams.add((group, stream))
            self._logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        except Exception:
            logger.exception("could not send %d log events to %s %s", len(events), group, stream)


def _event(line: bytes, stamp: int) -> dict[str, Any]:
    text = line[:MAX_EVENT_BYTES].decode("utf-8", "replace")
    return {"timestamp": stamp, "message": text}
