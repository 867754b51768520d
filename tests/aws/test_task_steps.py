"""The prepared task's setup steps, run for real: the prepare step's shell script with a
stand-in `aws` on PATH (under every shell here: it must stop at a failed decrypt), and the
fetch step's Python script against moto's S3 server through presigned URLs."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from moto_aws import CODE_BUCKET, REGION
from orchestrator.adapters.aws import fetch_inputs
from orchestrator.adapters.aws.kms_env import KmsEnvSealer, env_file
from orchestrator.adapters.aws.run_inputs import RunInputs
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.aws.task_layout import COMMAND_WRAPPER, WORKSPACE, prepare_script
from orchestrator.domain.models import LaunchSpec

SHELLS = [shell for shell in ("sh", "bash", "dash", "busybox") if shutil.which(shell)]
FAKE_AWS = """#!/bin/sh
echo "$*" >> "{log}"
case "$2" in
  decrypt) {decrypt} ;;
  retire-grant) exit 0 ;;
esac
"""


def stand_in_aws(tmp_path: Path, decrypt: str) -> tuple[dict[str, str], Path]:
    """PATH with a fake `aws` whose `kms decrypt` runs `decrypt`; and its call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "aws.log"
    fake = bin_dir / "aws"
    fake.write_text(FAKE_AWS.format(log=log, decrypt=decrypt))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MYCLI_EXECUTION_ID": "e1"}
    return env, log


def sealed_workspace(tmp_path: Path, pieces: int = 1) -> Path:
    workspace = tmp_path / "mycli"
    (workspace / "sealed").mkdir(parents=True)
    for number in range(pieces):
        (workspace / "sealed" / f"{number:03d}").write_bytes(b"ciphertext")
    (workspace / "grant-token").write_text("token-1")
    (workspace / "command").write_text("touch ran")
    return workspace


def run_steps(shell: str, workspace: Path, env: dict[str, str]) -> tuple[int, bool]:
    """Prepare, then (as ECS does: only on success) the command. (prepare's code, ran?)"""
    script = prepare_script(str(workspace))
    argv = [shell, "sh", "-c", script] if shell == "busybox" else [shell, "-c", script]
    prepared = subprocess.run(argv, env=env, cwd=workspace, capture_output=True, check=False)
    if prepared.returncode == 0:
        wrapper = COMMAND_WRAPPER.replace(WORKSPACE, str(workspace))
        subprocess.run(["sh", "-c", wrapper], env=env, cwd=workspace, check=True)
    return prepared.returncode, (workspace / "ran").exists()


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    "decrypt",
    [
        'echo "AccessDeniedException: not allowed" >&2; exit 254',  # no grant
        "exit 1",
        "echo 'not base64!'",  # garbage out: base64 -d must fail the step too
    ],
)
def test_a_failed_decrypt_fails_the_prepare_step_and_the_command_never_runs(
    tmp_path: Path, shell: str, decrypt: str
) -> None:
    workspace = sealed_workspace(tmp_path)
    env, _ = stand_in_aws(tmp_path, decrypt)

    code, ran = run_steps(shell, workspace, env)

    assert code != 0
    assert not ran
    assert not (workspace / "env").exists()


@pytest.mark.parametrize("shell", SHELLS)
def test_every_piece_is_unsealed_in_order_then_the_grant_is_retired(
    tmp_path: Path, shell: str
) -> None:
    workspace = sealed_workspace(tmp_path, pieces=2)
    plain = base64.b64encode(b"STAGE=blue\n").decode()
    env, log = stand_in_aws(tmp_path, f"echo {plain}")
    (workspace / "command").write_text('echo "$STAGE" > ran')

    code, ran = run_steps(shell, workspace, env)

    assert (code, ran) == (0, True)
    assert (workspace / "ran").read_text() == "blue\n"
    assert not (workspace / "env").exists(), "the wrapper deletes the env file once loaded"
    calls = log.read_text().splitlines()
    assert len(calls) == 3
    assert "--encryption-context execution_id=e1 --grant-tokens token-1" in calls[0]
    assert calls[2] == "kms retire-grant --grant-token token-1"


def test_without_env_values_prepare_does_nothing(tmp_path: Path) -> None:
    workspace = tmp_path / "mycli"
    workspace.mkdir()
    (workspace / "command").write_text("touch ran")
    env, log = stand_in_aws(tmp_path, "exit 1")

    assert run_steps("sh", workspace, env) == (0, True)
    assert not log.exists()


def run_fetch(workspace: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", Path(fetch_inputs.__file__).read_text(), str(workspace)],
        env={**os.environ, "MYCLI_MANIFEST_URL": url},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_fetch_writes_the_runs_inputs_from_presigned_urls(
    aws: AwsSettings, moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=CODE_BUCKET, Key="uploads/u/a.tar.gz", Body=b"archive")
    s3.put_object(Bucket=CODE_BUCKET, Key="uploads/u/s", Body=b"line 1\nline 2\n")
    sealer = KmsEnvSealer(boto3.client("kms", region_name=REGION), aws.env_key, aws.task_role_arn)
    spec = LaunchSpec(
        "e1",
        "cat > out",
        {"STAGE": "blue"},
        60,
        upload_location="uploads/u/a.tar.gz",
        stdin_location="uploads/u/s",
    )
    url = RunInputs(s3, CODE_BUCKET, sealer).publish(spec)
    workspace = tmp_path / "mycli"

    fetched = run_fetch(workspace, url)

    assert fetched.returncode == 0, fetched.stderr
    assert (workspace / "command").read_text() == "cat > out"
    assert (workspace / "upload.tar.gz").read_bytes() == b"archive"
    assert (workspace / "stdin").read_bytes() == b"line 1\nline 2\n"
    assert (workspace / "work").is_dir()
    [piece] = (workspace / "sealed").iterdir()
    plaintext = boto3.client("kms", region_name=REGION).decrypt(
        CiphertextBlob=piece.read_bytes(), EncryptionContext={"execution_id": "e1"}
    )["Plaintext"]
    assert plaintext == env_file({"STAGE": "blue"})
    assert (workspace / "grant-token").read_text()
    assert not (workspace / "manifest.json").exists()


def test_fetch_fails_when_its_manifest_cannot_be_read(tmp_path: Path, moto_server: str) -> None:
    fetched = run_fetch(tmp_path / "mycli", f"{moto_server}/{CODE_BUCKET}/runs/nope/manifest.json")

    assert fetched.returncode == 1
    assert "mycli: fetch failed: cannot download manifest.json" in fetched.stderr
    assert not (tmp_path / "mycli" / "command").exists()
