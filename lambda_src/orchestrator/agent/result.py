"""The agent's report of a run (layout.RESULT_NAME under the run's output prefix): the
command's exit code, the commit checked out, why the run failed without its command's
own exit, where the output was cut. Written here by the agent; read by the task-events
function (adapters/aws/s3_results.py). Standard library only."""

from __future__ import annotations

import json
from dataclasses import dataclass

from orchestrator.agent.layout import RESULT_NAME, RESULT_VERSION

MAX_FAILURE_CHARS = 1000


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None = None
    git_commit: str | None = None
    failure: str | None = None
    truncated_at: int | None = None
    exit_unknown: str | None = None  # why exit_code is null though the command ran

    def to_json(self) -> bytes:
        failure = self.failure
        if failure is not None and len(failure) > MAX_FAILURE_CHARS:
            failure = failure[: MAX_FAILURE_CHARS - 3] + "..."
        return json.dumps(
            {
                "v": RESULT_VERSION,
                "exit_code": self.exit_code,
                "git_commit": self.git_commit,
                "failure": failure,
                "truncated_at": self.truncated_at,
                "exit_unknown": self.exit_unknown,
            }
        ).encode()


def result_key(output_prefix: str) -> str:
    return output_prefix + RESULT_NAME
