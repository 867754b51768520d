"""`mycli exec --upload DIR` against a real local server: the files arrive (modes too), git's
ignore rules hold, the size limit is enforced before uploading, hostile archives and other
users' uploads are refused."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from archives import MIB, bomb, member, tarball, truncated
from deployment import LocalDeployment, running_deployment

pytestmark = [pytest.mark.e2e, pytest.mark.both_backends]


def project(root: Path) -> Path:
    (root / "scripts").mkdir(parents=True)
    script = root / "scripts" / "deploy.sh"
    script.write_text('#!/bin/sh\necho "deploying $(cat config/target.txt)"\nexit 3\n')
    script.chmod(0o755)
    (root / "config").mkdir()
    (root / "config" / "target.txt").write_text("blue-green\n")
    return root


def test_an_uploaded_script_runs_with_its_data_and_exit_code(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    directory = project(tmp_path / "app")

    result = deployment.mycli("exec", "--upload", str(directory), "--", "./scripts/deploy.sh")

    assert result.returncode == 3
    assert result.stdout == "deploying blue-green\n"
    assert "packed 2 files" in result.stderr


def test_an_upload_of_one_file_says_one_file(deployment: LocalDeployment, tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "only.txt").write_text("hello\n")

    result = deployment.mycli("exec", "--upload", str(tmp_path / "app"), "--", "cat only.txt")

    assert (result.returncode, result.stdout) == (0, "hello\n")
    assert f"mycli: packed 1 file from {tmp_path / 'app'} (" in result.stderr


def test_in_a_git_work_tree_ignored_files_do_not_arrive(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    directory = project(tmp_path / "repo")
    (directory / ".gitignore").write_text("secrets.env\nbuild/\n")
    (directory / "secrets.env").write_text("TOKEN=hunter2\n")
    (directory / "build").mkdir()
    (directory / "build" / "big.bin").write_bytes(b"0" * 1000)
    (directory / "untracked.txt").write_text("new, not ignored\n")
    git = ["git", "-C", str(directory), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "scripts", "config", ".gitignore"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)

    result = deployment.mycli("exec", "--upload", str(directory), "--", "find . -type f | sort")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "./.gitignore",
        "./config/target.txt",
        "./scripts/deploy.sh",
        "./untracked.txt",
    ]


def test_an_archive_over_the_servers_limit_is_refused_before_uploading(tmp_path: Path) -> None:
    with running_deployment(tmp_path / "home", "--max-upload-mb", "1") as local:
        directory = tmp_path / "big"
        directory.mkdir()
        (directory / "random.bin").write_bytes(os.urandom(2 * 1024 * 1024))

        result = local.mycli("exec", "--upload", str(directory), "--", "ls")

        assert result.returncode == 2  # over a limit, like stdin (test_over_a_limit.py)
        assert "over the server's limit of 1.0 MB" in result.stderr
        assert "Traceback" not in result.stderr
        listed = json.loads(local.mycli("list", "-o", "json", check=True).stdout)
        assert listed["items"] == []
        assert b"\x1f\x8b" not in local.stored_data(), "no archive was stored"


def test_a_path_traversal_archive_sent_to_the_api_fails_the_execution_with_the_reason(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    key = deployment.admin_key
    _, slot = deployment.api("POST", "/uploads", key)
    evil = tarball(member("ok.txt"), member("../../escaped.sh", b"#!/bin/sh\necho pwned\n", 0o755))
    put = urllib.request.Request(slot["url"], data=evil, method="PUT", headers=slot["headers"])
    with urllib.request.urlopen(put, timeout=10) as response:
        assert response.status == 200

    status, execution = deployment.api(
        "POST",
        "/executions",
        key,
        {"command": "ls", "upload_id": slot["upload_id"], "lock": "prod"},
    )

    assert status == 202
    final = deployment.wait_status(execution["execution_id"], ("FAILED",))
    assert final["reason"] == "upload refused: path leaves the directory: ../../escaped.sh"
    assert not (tmp_path / "data" / "escaped.sh").exists()
    assert not (tmp_path / "escaped.sh").exists()
    assert deployment.locks() == []


@pytest.mark.parametrize(
    ("archive", "reason"),
    [
        (
            lambda tmp: bomb(tmp / "bomb.tgz", 1024 * MIB).read_bytes(),
            "upload refused: unpacks to more than 512 MiB (the unpacked-size limit)",
        ),
        (
            lambda tmp: truncated(tarball(member("a.bin", os.urandom(256 * 1024)))),
            "upload refused: corrupt archive: ",
        ),
    ],
    ids=["1-mb-to-1-gib-bomb", "truncated-gzip"],
)
def test_at_the_defaults_a_bomb_or_a_truncated_archive_fails_the_run(
    deployment: LocalDeployment, tmp_path: Path, archive: Callable[[Path], bytes], reason: str
) -> None:
    key = deployment.admin_key
    _, slot = deployment.api("POST", "/uploads", key)
    put = urllib.request.Request(
        slot["url"], data=archive(tmp_path), method="PUT", headers=slot["headers"]
    )
    urllib.request.urlopen(put, timeout=30).close()

    _, execution = deployment.api(
        "POST", "/executions", key, {"command": "touch ran", "upload_id": slot["upload_id"]}
    )

    final = deployment.wait_status(execution["execution_id"], ("FAILED",), timeout=10)
    assert final["reason"].startswith(reason)
    assert list((tmp_path / "data").rglob("ran")) == []


def test_another_users_upload_id_is_refused_before_anything_runs(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    alice = deployment.add_user("alice@example.com")
    bob = deployment.add_user("bob@example.com")
    _, slot = deployment.api("POST", "/uploads", alice)
    put = urllib.request.Request(
        slot["url"], data=tarball(member("a.txt")), method="PUT", headers=slot["headers"]
    )
    urllib.request.urlopen(put, timeout=10).close()

    status, error = deployment.api(
        "POST", "/executions", bob, {"command": "cat a.txt", "upload_id": slot["upload_id"]}
    )

    assert status == 404
    assert error["error"]["code"] == "not_found"
    assert (
        json.loads(deployment.mycli("list", "-o", "json", key=bob, check=True).stdout)["items"]
        == []
    )
    status, mine = deployment.api(
        "POST", "/executions", alice, {"command": "cat a.txt", "upload_id": slot["upload_id"]}
    )
    assert status == 202
    assert deployment.wait_status(mine["execution_id"], ("SUCCEEDED",))["exit_code"] == 0
