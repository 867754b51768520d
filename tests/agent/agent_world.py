"""The run agent's world, real but for AWS: a moto server holding the bucket (the manifest,
the upload, stdin; the output behind S3's POST-policy checks) and a KMS key; the agent as
`python -m orchestrator.agent` and the command container's entry as `sh -c "$(cat
command_entry.sh)"`, two processes sharing a temporary workspace (MYCLI_WORKSPACE)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from moto_aws import CODE_BUCKET, REGION
from orchestrator.adapters.aws.kms_env import KmsEnvSealer
from orchestrator.adapters.aws.s3_logs import S3LogReader
from orchestrator.adapters.aws.s3_output import SIGV4, output_slot
from orchestrator.adapters.aws.s3_results import S3RunResults
from orchestrator.agent.layout import (
    EXECUTION_ID_VARIABLE,
    MAILBOX_UNTIL_VARIABLE,
    MAILBOX_URL_VARIABLE,
    MANIFEST_URL_VARIABLE,
    WORKSPACE_VARIABLE,
)
from orchestrator.agent.manifest import GitSource, Manifest, OutputSlotFields, Unsealed
from orchestrator.agent.scripts import COMMAND_ENTRY_SCRIPT_PATH
from orchestrator.domain.models import Execution, ExecutionStatus, RunResult
from orchestrator.output_segments import end_key
from twin.s3_front import PolicyFront

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"
TASK_ROLE = "arn:aws:iam::123456789012:role/mycli-task"
PIECE_BYTES = 40  # small, so the sealed values come in several pieces
WAIT_SECONDS = 20


@dataclass
class Ran:
    """What a run left: both processes' ends, the stored output and result."""

    workspace: Path
    agent_code: int
    agent_log: str
    entry_code: int | None
    stdout: bytes
    stderr: bytes
    result: RunResult | None
    keys: list[str]
    complete: bool  # read to the end, and the end marker is there
    truncated_at: int | None = None
    chunks: list[tuple[str, bytes]] = field(default_factory=list)


class AgentWorld:
    def __init__(self, root: Path, moto: str, front: str, policy: PolicyFront) -> None:
        self.root = root
        self.moto = moto
        self.front = front
        self.policy = policy
        self.s3 = boto3.client("s3", region_name=REGION)
        self.kms = boto3.client("kms", region_name=REGION)
        self._signing = boto3.client("s3", region_name=REGION, endpoint_url=moto)
        self._runs = 0
        self.key_id = self.kms.create_key(Description="env")["KeyMetadata"]["KeyId"]

    # -- what the create function would do -------------------------------------------------

    def put(self, key: str, body: bytes) -> str:
        """Store `body`; a presigned GET URL of it on the moto server."""
        self.s3.put_object(Bucket=CODE_BUCKET, Key=key, Body=body)
        return str(
            self._signing.generate_presigned_url(
                "get_object", Params={"Bucket": CODE_BUCKET, "Key": key}, ExpiresIn=600
            )
        )

    def seal(self, execution_id: str, unsealed: Unsealed) -> tuple[list[str], str]:
        """The values in KMS pieces bound to the run, and a grant to open them: the create
        function's own sealer, with small pieces so there are several."""
        sealed = KmsEnvSealer(self.kms, self.key_id, TASK_ROLE, PIECE_BYTES).seal(
            execution_id, unsealed
        )
        return sealed.pieces, sealed.grant_token

    def manifest(
        self,
        command: str,
        *,
        env: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
        git: GitSource | None = None,
        git_credential: str | None = None,
        upload: bytes | None = None,
        stdin: bytes | None = None,
        max_log_bytes: int = 1024 * 1024,
        slot_timeout: int = 600,
        slot_url: str | None = None,
    ) -> Manifest:
        self._runs += 1
        execution_id = f"run-{self._runs}-{time.monotonic_ns()}"
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=self.front, config=SIGV4)
        slot = output_slot(s3, CODE_BUCKET, execution_id, slot_timeout, datetime.now(UTC))
        sealed: list[str] = []
        token = None
        if env or secrets or git_credential:
            values = Unsealed(
                env={**(env or {}), **(secrets or {})},
                mask=list((secrets or {}).values()),
                git_credential=git_credential,
            )
            sealed, token = self.seal(execution_id, values)
        prefix = f"runs/{execution_id}/"
        return Manifest(
            execution_id=execution_id,
            command=command,
            output=OutputSlotFields(
                url=slot_url or slot.url,
                fields=slot.fields,
                prefix=slot.prefix,
                max_object_bytes=slot.max_object_bytes,
            ),
            max_log_bytes=max_log_bytes,
            sealed=sealed,
            grant_token=token,
            git=git,
            upload_url=self.put(prefix + "upload.tar.gz", upload) if upload is not None else None,
            stdin_url=self.put(prefix + "stdin", stdin) if stdin is not None else None,
        )

    # -- the task's two containers ---------------------------------------------------------

    def start(
        self, manifest: Manifest, shell: tuple[str, ...] = ("sh",), manifest_url: str | None = None
    ) -> tuple[subprocess.Popen[str], subprocess.Popen[bytes]]:
        """The agent and the entry (run by `shell`), started together on a fresh workspace;
        the manifest stored and given by its presigned URL unless `manifest_url` is."""
        workspace = self.workspace(manifest)
        workspace.mkdir()
        url = manifest_url or self.put(
            f"runs/{manifest.execution_id}/manifest.json", manifest.to_json()
        )
        overrides = {EXECUTION_ID_VARIABLE: manifest.execution_id, MANIFEST_URL_VARIABLE: url}
        return self.agent(workspace, overrides), self.entry(workspace, shell)

    def start_waiting(
        self, name: str, mailbox_url: str, until: str
    ) -> tuple[subprocess.Popen[str], subprocess.Popen[bytes]]:
        """A warm task's two processes on a fresh workspace `name`: the agent given only
        its mailbox (docs/warm-runners.md)."""
        workspace = self.root / name
        workspace.mkdir()
        overrides = {MAILBOX_URL_VARIABLE: mailbox_url, MAILBOX_UNTIL_VARIABLE: until}
        return self.agent(workspace, overrides), self.entry(workspace, ("sh",))

    def agent(self, workspace: Path, overrides: dict[str, str]) -> subprocess.Popen[str]:
        """`python -m orchestrator.agent` as the task runs it, with RunTask's `overrides`."""
        return subprocess.Popen(
            [sys.executable, "-m", "orchestrator.agent"],
            env={
                "PATH": os.environ["PATH"],
                "PYTHONPATH": str(LAMBDA_SRC),
                WORKSPACE_VARIABLE: str(workspace),
                **overrides,
                "MYCLI_MAX_UPLOAD_ENTRIES": "100",
                "AWS_ENDPOINT_URL": self.moto,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            },
            stderr=subprocess.PIPE,
            text=True,
        )

    @staticmethod
    def entry(workspace: Path, shell: tuple[str, ...]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*shell, "-c", COMMAND_ENTRY_SCRIPT_PATH.read_text()],
            env={"PATH": os.environ["PATH"], WORKSPACE_VARIABLE: str(workspace)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its process group: the container's processes
        )

    def workspace(self, manifest: Manifest) -> Path:
        return self.root / manifest.execution_id

    def run(
        self,
        manifest: Manifest,
        during: Callable[[subprocess.Popen[str], subprocess.Popen[bytes]], None] | None = None,
        shell: tuple[str, ...] = ("sh",),
        manifest_url: str | None = None,
    ) -> Ran:
        """Start both, do `during` while they run, wait for both; what they left."""
        agent, entry = self.start(manifest, shell, manifest_url)
        try:
            if during is not None:
                during(agent, entry)
            _, log = agent.communicate(timeout=WAIT_SECONDS)
            entry_code: int | None = entry.wait(timeout=WAIT_SECONDS)
        finally:
            for process in (agent, entry):
                if process.poll() is None:
                    process.kill()
                    process.wait()
            if entry.stdout is not None and entry.stderr is not None:
                entry.stdout.close()
                entry.stderr.close()
        return self.read(manifest, agent.returncode, log, entry_code)

    def read(self, manifest: Manifest, agent_code: int, log: str, entry_code: int | None) -> Ran:
        execution_id = manifest.execution_id
        listed = self.s3.list_objects_v2(Bucket=CODE_BUCKET, Prefix=f"runs/{execution_id}/")
        keys = [item["Key"] for item in listed.get("Contents", [])]
        # read as the task-events function reads it
        result = S3RunResults(self.s3, CODE_BUCKET).result_of(execution_id)
        page = S3LogReader(self.s3, CODE_BUCKET).read(
            finished(execution_id), None, 10 * 1024 * 1024
        )
        chunks = [(chunk.stream.value, chunk.data) for chunk in page.chunks]
        return Ran(
            workspace=self.workspace(manifest),
            agent_code=agent_code,
            agent_log=log,
            entry_code=entry_code,
            stdout=b"".join(data for stream, data in chunks if stream == "stdout"),
            stderr=b"".join(data for stream, data in chunks if stream == "stderr"),
            result=result,
            keys=keys,
            complete=page.at_end and end_key(execution_id) in keys,
            truncated_at=page.truncated_at,
            chunks=chunks,
        )

    def grants(self) -> list[dict[str, Any]]:
        return list(self.kms.list_grants(KeyId=self.key_id)["Grants"])


def finished(execution_id: str) -> Execution:
    return Execution(
        execution_id=execution_id,
        user_email="a@x.io",
        command="x",
        status=ExecutionStatus.SUCCEEDED,
        started_at="2026-01-01T00:00:00.000Z",
        timeout_seconds=60,
        log_stream_name=execution_id,
        finished_at="2026-01-01T00:00:01.000Z",
    )


def wait_for(path: Path, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.02)


def signal_when(path: Path, process: subprocess.Popen[Any], signum: int) -> None:
    wait_for(path)
    process.send_signal(signum)
