"""Git sources on AWS (moto): a --git run reaches RunTask in the prepared task, with the
source in the run's manifest and its credential sealed there, never in RunTask's request;
the clone step's commit reaches the record, and its failure the reason. Then the steps
themselves, run for real: fetch (moto's S3 through presigned URLs), prepare (a stand-in
`aws`), clone (the checkout script, real git over HTTP with basic auth) and the command."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from events import ecs_task_event
from git_repos import PRIVATE_PASSWORD, PRIVATE_USER, GitHttpServer, Repository, make_repository
from lambda_harness import Lambdas
from moto_aws import CODE_BUCKET, REGION
from orchestrator.adapters.aws import fetch_inputs
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import ecs_tasks
from orchestrator.adapters.aws.kms_env import KmsEnvSealer
from orchestrator.adapters.aws.run_inputs import RunInputs, manifest_key
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.aws.task_layout import COMMAND_WRAPPER, WORKSPACE, prepare_script
from orchestrator.agent.scripts import CHECKOUT_SCRIPT_PATH
from orchestrator.domain.models import GitSource, LaunchSpec

CHECKOUT_SCRIPT = CHECKOUT_SCRIPT_PATH.read_text()  # the program the checkout runs

CREDENTIAL = f"{PRIVATE_USER}:{PRIVATE_PASSWORD}"
SHA = "0123456789abcdef0123456789abcdef01234567"


def read_manifest(bucket: str, execution_id: str) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    body = s3.get_object(Bucket=bucket, Key=manifest_key(execution_id))["Body"].read()
    manifest: dict[str, Any] = json.loads(body)
    return manifest


def test_a_git_run_reaches_run_task_with_the_clone_step_and_no_credential(
    aws: AwsSettings,
) -> None:
    # Given the ECS runner, watching what boto3 sends to RunTask
    runner = ecs_tasks(aws, AwsClients())
    requests: list[dict[str, Any]] = []
    runner._ecs.meta.events.register(
        "provide-client-params.ecs.RunTask", lambda params, **_: requests.append(params)
    )
    source = GitSource("https://git.example.com/app.git", "v1", "ops", credential=CREDENTIAL)

    # When a short command with a private git source (and an env value) is launched
    runner.launch(LaunchSpec("e1", "./deploy.sh", {"STAGE": "blue"}, 60, git=source))

    # Then it runs in the prepared task (whose clone step checks out), and RunTask's request
    # holds no credential; the manifest holds the source, and the credential only sealed,
    # with the env values, under one grant
    [request] = requests
    assert request["taskDefinition"] == aws.prepared_task_definition
    assert PRIVATE_PASSWORD not in json.dumps(request)
    assert "./deploy.sh" not in json.dumps(request)
    manifest = read_manifest(aws.code_bucket, "e1")
    assert manifest["git"] == {
        "url": "https://git.example.com/app.git",
        "ref": "v1",
        "subdir": "ops",
    }
    assert PRIVATE_PASSWORD not in json.dumps(manifest)
    kms = boto3.client("kms", region_name=REGION)
    [sealed] = manifest["sealed_git_credential"]
    plaintext = kms.decrypt(
        CiphertextBlob=base64.b64decode(sealed), EncryptionContext={"execution_id": "e1"}
    )["Plaintext"]
    assert plaintext == CREDENTIAL.encode()
    assert len(manifest["sealed_env"]) == 1
    assert len(kms.list_grants(KeyId=aws.env_key)["Grants"]) == 1


def start_git_run(lambdas: Lambdas, lock: str, **fields: str) -> dict[str, Any]:
    status, execution = lambdas.call(
        "POST",
        "/executions",
        lambdas.alice_key,
        body={
            "command": "make deploy",
            "lock": lock,
            "git_url": "https://git.example.com/app.git",
            "git_ref": "main",
            **fields,
        },
    )
    assert status == 202, execution
    return execution


def put_step_log(lambdas: Lambdas, execution: dict[str, Any], step: str, *lines: str) -> None:
    logs = boto3.client("logs", region_name=REGION)
    stream = f"exec/{step}/{execution['task_ref'].rsplit('/', 1)[-1]}"
    logs.create_log_stream(logGroupName=lambdas.settings.log_group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=lambdas.settings.log_group,
        logStreamName=stream,
        logEvents=[{"timestamp": now, "message": line} for line in lines],
    )


def task_event(
    lambdas: Lambdas, execution: dict[str, Any], last_status: str, **fields: Any
) -> dict[str, Any]:
    return ecs_task_event(
        task_arn=execution["task_ref"],
        cluster_arn=lambdas.settings.cluster,
        started_by=execution["execution_id"],
        last_status=last_status,
        **fields,
    )


def test_the_clone_steps_commit_is_recorded_and_its_failure_is_the_reason(
    lambdas: Lambdas,
) -> None:
    # Given a git run with a stored secret, whose clone step printed its commit and exited
    # 0, and another whose clone step failed
    status, _ = lambdas.call(
        "PUT", "/secrets/git-token", lambdas.admin_key, body={"value": CREDENTIAL}
    )
    assert status == 200
    checked_out = start_git_run(lambdas, "one", git_secret="git-token")
    failed = start_git_run(lambdas, "two")
    [task] = boto3.client("ecs", region_name=REGION).describe_tasks(
        cluster=lambdas.settings.cluster, tasks=[checked_out["task_ref"]]
    )["tasks"]
    assert PRIVATE_PASSWORD not in json.dumps(task, default=str)
    assert PRIVATE_PASSWORD not in json.dumps(checked_out)
    manifest = read_manifest(lambdas.settings.code_bucket, checked_out["execution_id"])
    assert PRIVATE_PASSWORD not in json.dumps(manifest)
    assert manifest["sealed_git_credential"] and "sealed_env" not in manifest
    assert (checked_out["git_url"], checked_out["git_ref"]) == (
        "https://git.example.com/app.git",
        "main",
    )
    put_step_log(lambdas, checked_out, "clone", f"mycli-git-commit: {SHA}")
    running = task_event(lambdas, checked_out, "RUNNING")
    running["detail"]["containers"] += [
        {"name": "fetch", "lastStatus": "STOPPED", "exitCode": 0},
        {"name": "prepare", "lastStatus": "STOPPED", "exitCode": 0},
        {"name": "clone", "lastStatus": "STOPPED", "exitCode": 0},
    ]
    reason = "mycli: git ref 'main' not found in https://git.example.com/app.git"
    put_step_log(lambdas, failed, "clone", reason)
    stopped = task_event(lambdas, failed, "STOPPED", stop_code="EssentialContainerExited")
    stopped["detail"]["containers"] += [
        {"name": "fetch", "lastStatus": "STOPPED", "exitCode": 0},
        {"name": "prepare", "lastStatus": "STOPPED", "exitCode": 0},
        {"name": "clone", "lastStatus": "STOPPED", "exitCode": 1, "reason": "Error"},
    ]

    # When their task events arrive
    lambdas.invoke("task_events", running)
    lambdas.invoke("task_events", stopped)

    # Then the first names its commit while it runs; the second is FAILED with the clone
    # step's reason, and its lock is free
    _, current = lambdas.call(
        "GET", f"/executions/{checked_out['execution_id']}", lambdas.alice_key
    )
    assert (current["status"], current["git_commit"]) == ("RUNNING", SHA)
    _, final = lambdas.call("GET", f"/executions/{failed['execution_id']}", lambdas.alice_key)
    assert final["status"] == "FAILED"
    assert final["reason"] == (
        f"could not check out the git source: clone exited with code 1 (Error): {reason}"
    )
    assert final["git_commit"] is None
    [lock] = lambdas.call("GET", "/locks", lambdas.alice_key)[1]["items"]
    assert lock["lock_name"] == "one"


# -- the prepared task's steps, run for real ---------------------------------------------------


@pytest.fixture(scope="module")
def private_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Repository]]:
    root = tmp_path_factory.mktemp("git")
    repo = make_repository(root / "private", "app.git")
    server = GitHttpServer(root).start()
    yield f"{server.url}/private/app.git", repo
    server.stop()


def stand_in_aws(tmp_path: Path, plaintext: bytes) -> dict[str, str]:
    """PATH with a fake `aws` whose `kms decrypt` answers `plaintext` (base64, as the CLI)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    answer = base64.b64encode(plaintext).decode()
    fake.write_text(f'#!/bin/sh\ncase "$2" in decrypt) echo {answer} ;; esac\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MYCLI_EXECUTION_ID": "e1"}


def test_fetch_prepare_clone_and_command_check_out_a_private_repository(
    aws: AwsSettings,
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    private_repo: tuple[str, Repository],
) -> None:
    # Given a run of tag v1 of a private repository, in its app/ directory, published as the
    # create function does
    url, repo = private_repo
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    s3 = boto3.client("s3", region_name=REGION)
    sealer = KmsEnvSealer(boto3.client("kms", region_name=REGION), aws.env_key, aws.task_role_arn)
    source = GitSource(url, "v1", "app", credential=CREDENTIAL)
    manifest_url = RunInputs(s3, CODE_BUCKET, sealer).publish(
        LaunchSpec("e1", "./run.sh > ../../out", {}, 60, git=source)
    )
    workspace = tmp_path / "mycli"
    env = stand_in_aws(tmp_path, CREDENTIAL.encode())

    # When the steps run in order, each only if the one before succeeded
    fetched = subprocess.run(
        [sys.executable, "-c", Path(fetch_inputs.__file__).read_text(), str(workspace)],
        env={**os.environ, "MYCLI_MANIFEST_URL": manifest_url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert fetched.returncode == 0, fetched.stderr
    prepared = subprocess.run(
        ["sh", "-c", prepare_script(str(workspace))], env=env, capture_output=True, check=False
    )
    assert prepared.returncode == 0, prepared.stderr
    assert (workspace / "git" / "credential").stat().st_mode & 0o077 == 0
    cloned = subprocess.run(
        [
            "sh",
            "-c",
            CHECKOUT_SCRIPT,
            "clone",
            str(workspace / "git"),
            str(workspace / "work"),
            str(workspace / "git-scratch"),
        ],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=False,
    )
    assert cloned.returncode == 0, cloned.stderr
    wrapper = COMMAND_WRAPPER.replace(WORKSPACE, str(workspace))
    subprocess.run(["sh", "-c", wrapper], cwd=workspace / "work", env=env, check=True)

    # Then the command ran in app/ of v1, the clone step printed the commit, and the
    # credential is left in no file of the workspace
    assert (workspace / "out").read_text() == "version 1 in app\n"
    assert cloned.stdout == f"mycli-git-commit: {repo.first}\n"
    for path in workspace.rglob("*"):
        if path.is_file():
            assert PRIVATE_PASSWORD.encode() not in path.read_bytes(), path
    shutil.rmtree(workspace)


def test_the_clone_step_does_nothing_for_a_run_without_a_git_source(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()

    cloned = subprocess.run(
        ["sh", "-c", CHECKOUT_SCRIPT, "clone", str(tmp_path / "git"), str(tmp_path / "work"), "x"],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        check=False,
    )

    assert (cloned.returncode, cloned.stdout, cloned.stderr) == (0, b"", b"")
    assert list((tmp_path / "work").iterdir()) == []


# -- the clone step against a redirecting git server, as the container runs it ---------------

# The commands the script uses, which the git image (alpine) has as busybox applets.
ALPINE_TOOLS = ("sh", "cat", "rm", "mkdir", "grep", "head", "tail", "sed", "tr", "cut", "base64")
CLONE_SHELLS = [shell for shell in ("dash", "busybox") if shutil.which(shell)]


def clone_step(
    tmp_path: Path, shell: str, files: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`sh -c SCRIPT clone FILES TARGET SCRATCH` with the step's files, as the container runs
    it; under busybox, with busybox's applets (and the host's git) as the only commands."""
    (tmp_path / "git").mkdir()
    for name, text in files.items():
        (tmp_path / "git" / name).write_text(text)
    path = os.environ["PATH"]
    argv = [shell, "-c", CHECKOUT_SCRIPT]
    if shell == "busybox":
        tools = tmp_path / "alpine-bin"
        tools.mkdir()
        for tool in ALPINE_TOOLS:
            (tools / tool).symlink_to(shutil.which("busybox") or "busybox")
        (tools / "git").symlink_to(shutil.which("git") or "git")
        path, argv = str(tools), [str(tools / "sh"), "-c", CHECKOUT_SCRIPT]
    return subprocess.run(
        [*argv, "clone", str(tmp_path / "git"), str(tmp_path / "work"), str(tmp_path / "scratch")],
        env={"PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def redirecting(tmp_path: Path) -> Iterator[tuple[GitHttpServer, GitHttpServer]]:
    """(a server that redirects every request, the server it redirects to)."""
    make_repository(tmp_path / "repos", "app.git")
    target = GitHttpServer(tmp_path / "repos").start()
    front = GitHttpServer(tmp_path / "repos", redirect_to=target.url, redirect_status=301)
    yield front.start(), target
    front.stop()
    target.stop()


@pytest.mark.parametrize("shell", CLONE_SHELLS)
def test_the_clone_step_never_takes_the_credential_along_a_redirect(
    tmp_path: Path, shell: str, redirecting: tuple[GitHttpServer, GitHttpServer]
) -> None:
    front, target = redirecting
    url = f"{front.url}/app.git"

    cloned = clone_step(tmp_path, shell, {"url": url, "credential": CREDENTIAL})

    assert target.requests == [] and target.authorizations == []
    assert cloned.returncode == 1
    assert cloned.stderr.splitlines()[-1] == (
        f"mycli: {url} redirected to {target.url}/app.git: the git secret goes only to the "
        "URL named, so redirects are not followed; name the final URL"
    )
    assert PRIVATE_PASSWORD not in cloned.stdout + cloned.stderr
    assert not (tmp_path / "git" / "credential").exists()
    assert sorted(os.listdir(tmp_path / "scratch")) == ["home"]


@pytest.mark.parametrize("shell", CLONE_SHELLS)
def test_the_clone_step_follows_a_redirect_without_a_credential(
    tmp_path: Path, shell: str, redirecting: tuple[GitHttpServer, GitHttpServer]
) -> None:
    front, target = redirecting

    cloned = clone_step(tmp_path, shell, {"url": f"{front.url}/app.git", "ref": "v1"})

    assert cloned.returncode == 0, cloned.stderr
    assert cloned.stdout.startswith("mycli-git-commit: ")
    assert (tmp_path / "work" / "VERSION").read_text() == "1\n"
    assert target.requests != [] and target.authorizations == []
