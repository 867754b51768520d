"""The prepared task's unpack step with hostile uploads, run for real: the upload goes to S3
(moto's server), the fetch step downloads it through presigned URLs, then the unpack step
runs exactly as its container does (`python3 -I -c SOURCE ARCHIVE WORK --max-... N`, the
template's entry point and command, the workspace moved to a temporary directory). Its exit
code must name the refusal (task_events turns it into the reason), and nothing may appear
outside the working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from archives import (
    Member,
    bomb,
    chains,
    device,
    entry_bomb,
    hard_link,
    link,
    member,
    realpath_overflow,
    tarball,
    truncated,
)
from moto_aws import CODE_BUCKET, REGION
from orchestrator import unpack
from orchestrator.adapters.aws import fetch_inputs
from orchestrator.adapters.aws.kms_env import KmsEnvSealer
from orchestrator.adapters.aws.run_inputs import RunInputs
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.aws.task_events import setup_failure
from orchestrator.adapters.aws.task_layout import UNPACK_ENTRY_POINT, unpack_command
from orchestrator.domain.models import LaunchSpec
from orchestrator.unpack import MIB, REFUSALS, Limits

LIMITS = Limits(max_unpacked_mib=2, max_entries=50)
Build = Callable[[Path], bytes]


def archive_of(*members: Member) -> Build:
    return lambda workspace: tarball(*members)


HOSTILE: dict[str, tuple[Build, str]] = {
    "bomb": (lambda w: bomb(w.parent / "bomb.tgz", 64 * MIB).read_bytes(), "too_big"),
    "entry bomb": (lambda w: entry_bomb(w.parent / "many.tgz", 51).read_bytes(), "too_many"),
    "cve-2025-4517 chain": (
        lambda w: tarball(member("ok"), *realpath_overflow(w / "work")),
        "through_link",
    ),
    "dir link then a file through it": (
        archive_of(*chains()["dir link then a file through it"]),
        "through_link",
    ),
    "dot-link then parent link through it": (
        archive_of(*chains()["dot-link then parent link through it"]),
        "through_link",
    ),
    "hard link outside": (archive_of(hard_link("h", "../mycli/command")), "hard_link"),
    "link outside": (archive_of(link("up", "../../etc")), "link"),
    "device": (archive_of(device("null")), "special"),
    "fifo": (archive_of(device("pipe", b"6")), "special"),
    "absolute": (archive_of(member("/etc/evil")), "absolute"),
    "dot-dot": (archive_of(member("../evil")), "escape"),
    "truncated": (lambda w: truncated(tarball(member("a", os.urandom(200_000)))), "corrupt"),
}


def fetched_upload(
    aws: AwsSettings,
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
    workspace: Path,
    data: bytes,
) -> None:
    """The upload stored in S3, then fetched into `workspace` by the fetch step's script."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=CODE_BUCKET, Key="uploads/u/a.tar.gz", Body=data)
    sealer = KmsEnvSealer(boto3.client("kms", region_name=REGION), aws.env_key, aws.task_role_arn)
    spec = LaunchSpec("e1", "ls", {}, 60, upload_location="uploads/u/a.tar.gz")
    url = RunInputs(s3, CODE_BUCKET, sealer).publish(spec)
    fetched = subprocess.run(
        [sys.executable, "-c", Path(fetch_inputs.__file__).read_text(), str(workspace)],
        env={**os.environ, "MYCLI_MANIFEST_URL": url},
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert fetched.returncode == 0, fetched.stderr
    assert (workspace / "upload.tar.gz").read_bytes() == data


def run_unpack_step(workspace: Path, limits: Limits) -> subprocess.CompletedProcess[str]:
    """As the container: its entry point (python3 being this interpreter) and command."""
    entry_point = [sys.executable, *UNPACK_ENTRY_POINT[1:], Path(unpack.__file__).read_text()]
    return subprocess.run(
        [*entry_point, *unpack_command(limits, str(workspace))],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_upload_stops_the_task_at_the_unpack_step_with_the_reason(
    aws: AwsSettings,
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    case: str,
) -> None:
    build, kind = HOSTILE[case]
    workspace = tmp_path / "mycli"
    workspace.mkdir()
    fetched_upload(aws, moto_server, monkeypatch, workspace, build(workspace))
    before = sorted(p.name for p in tmp_path.iterdir())

    step = run_unpack_step(workspace, LIMITS)

    code, reason = REFUSALS[kind]
    assert step.returncode == code, step.stderr
    assert step.stderr.startswith("mycli: upload refused: ")
    containers = [{"name": "prepare", "exitCode": 0}, {"name": "unpack", "exitCode": code}]
    assert setup_failure(containers) == f"upload refused: {reason}"
    assert list((workspace / "work").iterdir()) == []
    assert sorted(p.name for p in workspace.iterdir()) == ["command", "upload.tar.gz", "work"]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_fair_upload_is_unpacked_into_the_working_directory(
    aws: AwsSettings, moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    workspace = tmp_path / "mycli"
    workspace.mkdir()
    data = tarball(
        member("run.sh", b"#!/bin/sh\necho hi\n", 0o755),
        link("alias.sh", "run.sh"),
        hard_link("copy.sh", "run.sh"),
    )
    fetched_upload(aws, moto_server, monkeypatch, workspace, data)

    step = run_unpack_step(workspace, LIMITS)

    assert step.returncode == 0, step.stderr
    work = workspace / "work"
    assert sorted(p.name for p in work.iterdir()) == ["alias.sh", "copy.sh", "run.sh"]
    assert os.access(work / "run.sh", os.X_OK)
    assert (work / "alias.sh").read_text() == "#!/bin/sh\necho hi\n"
