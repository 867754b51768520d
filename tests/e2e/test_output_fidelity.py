"""What a command writes reaches the caller unchanged: the real `mycli` against a real
`mycli local up`, comparing stdout and stderr byte for byte (issue 8's cases)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployment import MYCLI, LocalDeployment, running_deployment

pytestmark = [pytest.mark.e2e, pytest.mark.both_backends]
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    with running_deployment(tmp_path_factory.mktemp("fidelity")) as local:
        yield local


def run(
    deployment: LocalDeployment, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The real mycli, its stdout and stderr kept as bytes (both are pipes here)."""
    return subprocess.run(
        [MYCLI, *args],
        env=deployment.env,
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def exec_bytes(deployment: LocalDeployment, command: str) -> subprocess.CompletedProcess[bytes]:
    return run(deployment, "exec", "--", command)


def execution_id_of(result: subprocess.CompletedProcess[bytes]) -> str:
    match = re.search(rb"execution ([0-9a-f]{32}) started", result.stderr)
    assert match, result.stderr
    return match.group(1).decode()


def test_carriage_returns_and_the_exit_code_come_through(server: LocalDeployment) -> None:
    result = exec_bytes(server, "printf 'A\\nB\\rC\\nD\\n'; echo after; exit 3")

    assert result.stdout == b"A\nB\rC\nD\nafter\n"
    assert result.returncode == 3


def test_random_bytes_come_back_identical(server: LocalDeployment, tmp_path: Path) -> None:
    sent = tmp_path / "random.bin"

    result = exec_bytes(server, f"head -c 4096 /dev/urandom | tee {sent}")

    assert result.returncode == 0, result.stderr
    assert result.stdout == sent.read_bytes()
    assert len(result.stdout) == 4096


def test_three_million_bytes_without_a_newline_all_arrive(server: LocalDeployment) -> None:
    result = exec_bytes(server, 'head -c 3000000 /dev/zero | tr "\\0" y')

    assert result.returncode == 0
    assert result.stdout == b"y" * 3_000_000


def test_three_thousand_long_lines_all_arrive(server: LocalDeployment) -> None:
    result = exec_bytes(server, "yes \"$(head -c 1999 /dev/zero | tr '\\0' x)\" | head -n 3000")

    assert result.stdout == (b"x" * 1999 + b"\n") * 3000


def test_a_partial_line_gets_no_newline(server: LocalDeployment) -> None:
    result = exec_bytes(server, "printf 'waiting...'; sleep 1; echo ' done'")

    assert result.stdout == b"waiting... done\n"


def test_a_300_kb_line_is_not_split(server: LocalDeployment) -> None:
    result = exec_bytes(server, "head -c 300000 /dev/zero | tr '\\0' z; echo")

    assert result.stdout == b"z" * 300_000 + b"\n"


def test_ansi_sequences_are_kept_when_stdout_is_a_pipe(server: LocalDeployment) -> None:
    result = exec_bytes(server, "printf '\\033[1;31mred\\033[0m plain\\n'")

    assert result.stdout == b"\x1b[1;31mred\x1b[0m plain\n"


def test_stderr_goes_to_stderr_and_stdout_to_stdout(server: LocalDeployment) -> None:
    result = exec_bytes(server, "echo out; echo err >&2; printf 'no newline' >&2")

    assert result.stdout == b"out\n"
    assert b"err\nno newline" in result.stderr
    assert b"err" not in result.stdout


def test_mycli_s_status_line_starts_a_line_of_its_own(server: LocalDeployment) -> None:
    # Given a command whose stdout and stderr both end without a newline
    result = exec_bytes(server, "printf out; printf err >&2; exit 4")

    # Then stdout is exactly the command's, and mycli's line is not glued to `err`
    assert (result.returncode, result.stdout) == (4, b"out")
    assert re.search(rb" started\nerr\nmycli: execution [0-9a-f]{32} FAILED", result.stderr), (
        result.stderr
    )


def test_logs_replays_the_same_bytes_and_json_gives_each_chunk(server: LocalDeployment) -> None:
    # Given a finished execution that wrote to both streams
    result = exec_bytes(server, "printf 'A\\rB\\377'; sleep 0.2; printf 'oops' >&2; echo end")
    execution_id = execution_id_of(result)

    # When its logs are replayed, raw and as JSON
    replay = run(server, "logs", execution_id)
    as_json = run(server, "logs", "-o", "json", execution_id)

    # Then the raw replay has the same bytes on the same streams
    assert replay.returncode == 0
    assert replay.stdout == result.stdout == b"A\rB\xffend\n"
    assert replay.stderr == b"oops"
    # and JSON has one object per chunk, each with its stream, offset and timestamp
    chunks = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(c["offset"], c["stream"], base64.b64decode(c["data"])) for c in chunks] == [
        (0, "stdout", b"A\rB\xff"),
        (4, "stderr", b"oops"),
        (8, "stdout", b"end\n"),
    ]
    assert all(c["timestamp"].endswith("Z") for c in chunks)


def test_timestamps_prefix_each_chunk(server: LocalDeployment) -> None:
    execution_id = execution_id_of(exec_bytes(server, "echo one"))

    result = run(server, "logs", "--timestamps", execution_id)

    assert re.fullmatch(rb"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z one\n", result.stdout)


def test_stdin_uploaded_through_the_api_reaches_cat(server: LocalDeployment) -> None:
    # Given bytes uploaded to a slot, raw (not an archive)
    sent = b"SELECT 1;\n\x00\xff\r\nlast line without newline"
    _, slot = server.api("POST", "/uploads", server.admin_key)
    put = urllib.request.Request(slot["url"], data=sent, method="PUT", headers=slot["headers"])
    urllib.request.urlopen(put, timeout=10).close()

    # When an execution names them as its stdin
    status, created = server.api(
        "POST",
        "/executions",
        server.admin_key,
        {"command": "cat", "stdin_upload_id": slot["upload_id"]},
    )

    # Then cat prints them back exactly, and the record names the upload
    assert status == 202, created
    followed = run(server, "logs", "-f", created["execution_id"])
    assert followed.stdout == sent
    assert server.execution(created["execution_id"])["stdin_upload_id"] == slot["upload_id"]


def test_without_stdin_the_command_reads_nothing(server: LocalDeployment) -> None:
    result = exec_bytes(server, "cat; echo end")

    assert (result.returncode, result.stdout) == (0, b"end\n")


def test_output_past_the_log_cap_is_dropped_and_said_once(tmp_path: Path) -> None:
    # Given a deployment whose log cap is 1 MiB
    with running_deployment(tmp_path, "--max-log-mb", "1") as local:
        # When a command prints 1 MiB and 5000 bytes and goes on afterwards
        result = exec_bytes(
            local, f"head -c {MIB + 5000} /dev/zero | tr '\\0' a; sleep 0.2; exit 6"
        )
        execution_id = execution_id_of(result)
        replay = run(local, "logs", execution_id)
        record = local.execution(execution_id)

    # Then the run finished with its own code, 1 MiB was kept, and both mycli and the
    # record say where the log was truncated
    note = f"mycli: log truncated at {MIB} bytes (the log cap)\n".encode()
    assert result.returncode == 6
    assert result.stdout == b"a" * MIB
    assert result.stderr.count(note) == 1
    assert replay.stdout == b"a" * MIB and replay.stderr.count(note) == 1
    assert record["log_truncated_at"] == MIB
