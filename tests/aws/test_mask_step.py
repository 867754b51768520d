"""The prepared task's masking for runs with secrets, run for real on this machine: the
prepare script (with a stand-in `aws` whose decrypt returns what it is given) unseals the
env and the masker's values and makes the FIFO; the mask step (orchestrator/masking.py, as
the mask container runs it) and the command's wrapper then run side by side."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import masking
from orchestrator.adapters.aws.kms_env import env_file, mask_file
from orchestrator.adapters.aws.task_layout import COMMAND_WRAPPER, WORKSPACE, prepare_script

VALUE = "Task-Secret-Value-555"
SHELLS = [shell for shell in ("sh", "bash", "dash", "busybox") if shutil.which(shell)]
# `aws kms decrypt --ciphertext-blob fileb://PATH ...`: the "ciphertext" is the plaintext.
FAKE_AWS = """#!/bin/sh
case "$2" in
  decrypt) base64 < "${4#fileb://}" ;;
esac
"""


def workspace_for(tmp_path: Path, command: str, value: str = VALUE) -> tuple[Path, dict[str, str]]:
    workspace = tmp_path / "mycli"
    for folder, plaintext in (
        ("sealed", env_file({"DB": value, "STAGE": "blue"})),
        ("sealed-mask", mask_file([value])),
    ):
        (workspace / folder).mkdir(parents=True)
        (workspace / folder / "000").write_bytes(plaintext)
    (workspace / "grant-token").write_text("token-1")
    (workspace / "command").write_text(command)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(FAKE_AWS)
    (bin_dir / "aws").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MYCLI_EXECUTION_ID": "e1"}
    return workspace, env


def run_task(shell: str, workspace: Path, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """prepare, then mask and the command side by side: (command's code, masked, command's
    own output)."""
    script = prepare_script(str(workspace))
    argv = [shell, "sh", "-c", script] if shell == "busybox" else [shell, "-c", script]
    subprocess.run(argv, env=env, cwd=workspace, check=True, capture_output=True)
    assert stat.S_ISFIFO((workspace / "output").stat().st_mode)
    mask = subprocess.Popen(
        [
            sys.executable,
            "-c",
            Path(masking.__file__).read_text(),
            str(workspace / "mask-values"),
            str(workspace / "output"),
            str(workspace / "masked"),
        ],
        stdout=subprocess.PIPE,
    )
    wrapper = COMMAND_WRAPPER.replace(WORKSPACE, str(workspace))
    command = subprocess.run(
        ["sh", "-c", wrapper], env=env, cwd=workspace, capture_output=True, timeout=30, check=False
    )
    masked, _ = mask.communicate(timeout=30)
    return command.returncode, masked, command.stdout + command.stderr


@pytest.mark.parametrize("shell", SHELLS)
def test_a_runs_output_reaches_its_log_masked_and_its_exit_code_is_kept(
    tmp_path: Path, shell: str
) -> None:
    workspace, env = workspace_for(
        tmp_path, 'echo "pw $DB $STAGE"; echo "err $DB" >&2; printf "%s" "$DB"; exit 3'
    )

    code, masked, own = run_task(shell, workspace, env)

    assert code == 3
    assert masked == b"pw *** blue\nerr ***\n***"
    assert own == b""
    assert (workspace / "masked").exists()
    assert not (workspace / "mask-values").exists() and not (workspace / "env").exists()
    assert not (workspace / "sealed-mask").exists()


def test_the_mask_step_of_a_run_without_secrets_just_ends(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            masking.__file__,
            str(tmp_path / "none"),
            str(tmp_path / "output"),
            str(tmp_path / "masked"),
        ],
        capture_output=True,
        timeout=10,
        check=False,
    )

    assert (done.returncode, done.stdout) == (0, b"")
    assert (tmp_path / "masked").exists()


KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
    "LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo\n"
    "9w==\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize("shell", SHELLS)
def test_each_line_of_a_multi_line_secret_printed_alone_is_masked(
    tmp_path: Path, shell: str
) -> None:
    # Given a run whose secret is a PEM key, printing it a line at a time on both streams
    workspace, env = workspace_for(
        tmp_path,
        'printf "%s\\n" "$DB" | while read l; do echo "line $l"; done; '
        'echo "$DB" | sed -n 3p >&2; echo "}"',
        value=KEY,
    )

    code, masked, _ = run_task(shell, workspace, env)

    # Then no line of it is in clear (the 4-byte `9w==` neither), and ordinary short output
    # (`}`) is left alone
    assert code == 0
    lines = KEY.split("\n")
    assert masked.decode() == "line ***\n" * len(lines) + "***\n}\n"
    for line in lines:
        assert line.encode() not in masked
