"""One exit code for "over a limit": every input over a documented limit (upload archive,
stdin, command, env, secrets per run, a secret's value) exits 2, in words, before anything
runs, against a real `mycli local up`."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployment import MYCLI, LocalDeployment, running_deployment
from orchestrator.domain.models import (
    MAX_COMMAND_LENGTH,
    MAX_ENV_ENTRIES,
    MAX_ENV_TOTAL_BYTES,
    MAX_ENV_VALUE_LENGTH,
    MAX_SECRET_VALUE_BYTES,
    MAX_SECRETS_PER_EXECUTION,
)

pytestmark = [pytest.mark.e2e, pytest.mark.both_backends]

MIB = 1024 * 1024


@pytest.fixture
def small(tmp_path: Path) -> Iterator[LocalDeployment]:
    """A deployment whose upload limit is 1 MB."""
    with running_deployment(tmp_path / "home", "--max-upload-mb", "1") as deployment:
        yield deployment


def nothing_ran(deployment: LocalDeployment) -> bool:
    listed = json.loads(deployment.mycli("list", "-o", "json", check=True).stdout)
    return listed["items"] == [] and deployment.locks() == []


def assert_refused_in_words(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_an_upload_over_the_limit_is_2_before_anything_runs(
    small: LocalDeployment, tmp_path: Path
) -> None:
    # Given a directory whose archive cannot shrink under 1 MB (random bytes)
    source = tmp_path / "src"
    source.mkdir()
    (source / "blob").write_bytes(os.urandom(2 * MIB))

    # When it is uploaded to a run holding a lock
    result = small.mycli("exec", "--lock", "db", "--upload", str(source), "--", "true")

    # Then mycli says so and exits 2, like stdin over the limit, and nothing ran
    assert_refused_in_words(result, "over the server's limit of 1.0 MB")
    assert nothing_ran(small)


def test_stdin_over_the_upload_limit_is_2_before_anything_runs(small: LocalDeployment) -> None:
    result = subprocess.run(
        [MYCLI, "exec", "-i", "--lock", "db", "--", "wc -c"],
        input=b"x" * (MIB + 1),
        env=small.env,
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert b"stdin is over the server's limit of 1.0 MB" in result.stderr
    assert nothing_ran(small)


def test_an_upload_just_under_the_limit_runs(small: LocalDeployment, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "blob").write_bytes(os.urandom(MIB - 64 * 1024))

    result = small.mycli("exec", "--upload", str(source), "--", "wc -c < blob")

    assert (result.returncode, result.stdout.strip()) == (0, str(MIB - 64 * 1024)), result.stderr


def many_env(count: int, size: int = 1) -> list[str]:
    return [arg for n in range(count) for arg in ("-e", f"V{n}={'v' * size}")]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--", "x" * (MAX_COMMAND_LENGTH + 1)], f"over the limit of {MAX_COMMAND_LENGTH}"),
        (
            ["-e", f"BIG={'v' * (MAX_ENV_VALUE_LENGTH + 1)}", "--", "true"],
            f"over the limit of {MAX_ENV_VALUE_LENGTH}",
        ),
        ([*many_env(MAX_ENV_ENTRIES + 1), "--", "true"], f"over the limit of {MAX_ENV_ENTRIES}"),
        (
            [*many_env(3, MAX_ENV_TOTAL_BYTES // 3), "--", "true"],
            f"over the limit of {MAX_ENV_TOTAL_BYTES}",
        ),
        (
            [
                *(f"--secret=S{n}=nope" for n in range(MAX_SECRETS_PER_EXECUTION + 1)),
                "--",
                "true",
            ],
            f"over the limit of {MAX_SECRETS_PER_EXECUTION} per run",
        ),
    ],
    ids=["command", "env-value", "env-entries", "env-bytes", "secrets"],
)
def test_a_run_over_a_request_limit_is_2_before_its_upload(
    small: LocalDeployment, tmp_path: Path, args: list[str], words: str
) -> None:
    # Given an upload that would be packed and sent if the request were not checked first
    source = tmp_path / "src"
    source.mkdir()
    (source / "file").write_text("x")

    result = small.mycli("exec", "--lock", "db", "--upload", str(source), *args)

    assert_refused_in_words(result, words)
    assert "packed" not in result.stderr, "refused before anything was packed or uploaded"
    assert nothing_ran(small)


@pytest.mark.embedded_only(
    "API Gateway's request validator refuses a body off the model"
    " before any function runs, with its own words ('Invalid request body')"
)
def test_a_secret_value_over_the_limit_is_2(small: LocalDeployment) -> None:
    result = subprocess.run(
        [MYCLI, "admin", "secrets", "set", "big"],
        input="s" * (MAX_SECRET_VALUE_BYTES + 1),
        env=small.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert_refused_in_words(result, str(MAX_SECRET_VALUE_BYTES))
    assert "big" not in small.mycli("admin", "secrets", "list", check=True).stdout
