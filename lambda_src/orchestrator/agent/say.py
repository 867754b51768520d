"""The agent's own log: one line per event on stderr (the operators' CloudWatch copy),
each prefixed `mycli-agent: `, with every secret value it knows of masked, so no line it
writes ever holds one. Standard library only."""

from __future__ import annotations

import sys
from typing import TextIO

from orchestrator.masking import Masker

PREFIX = "mycli-agent: "


class AgentLog:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._secrets: list[bytes] = []

    def mask(self, values: list[str]) -> None:
        """Mask these values in every later line."""
        self._secrets = [value.encode() for value in values if value]

    def say(self, message: str) -> None:
        line = " ".join(message.split())  # one line, whatever the message held
        if self._secrets:
            masker = Masker(self._secrets)
            line = (masker.feed(line.encode()) + masker.flush()).decode(errors="replace")
        stream = self._stream or sys.stderr
        stream.write(f"{PREFIX}{line}\n")
        stream.flush()
