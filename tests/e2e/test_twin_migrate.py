"""`mycli migrate --to twin`: a real `mycli local up` moved onto the Fargate twin, then used
there as issue 20 asks: `mycli --profile twin list` shows the runs, `logs ID` prints the same
bytes on both, and a migrated user's key runs a command on the twin. A migration killed
half-way continues where it stopped, and one more changes nothing.

Twin only: the target is an AWS deployment (the source is an embedded platform either way)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployment import MYCLI, TERMINAL, LocalDeployment
from twin_deployment import TwinDeployment

pytestmark = pytest.mark.twin_only("the target of a migration is an AWS deployment")

RUNS = 30  # more than one progress report (every 25), so a migration can be cut after one
SECRET = "Migrated-Twin-Secret-5150"
MIXED = "printf 'to stdout\\n'; printf 'to stderr\\r\\n' >&2; printf '\\377raw'; exit 3"


@pytest.fixture
def source(tmp_path: Path) -> Iterator[LocalDeployment]:
    """An embedded platform (`mycli local up`) beside the twin, whatever the suite's backend."""
    local = LocalDeployment(tmp_path / "source")
    local.mycli("local", "up", "--background", "--port", "0", "--kill-grace", "1", check=True)
    yield local
    local.down()


def output_of(deployment: LocalDeployment, *args: str) -> tuple[bytes, bytes]:
    """A mycli command's exact stdout and stderr bytes."""
    done = subprocess.run(
        [MYCLI, *args], env=deployment.env, capture_output=True, timeout=60, check=True
    )
    return done.stdout, done.stderr


def finished_runs(source: LocalDeployment, timeout: float = 30) -> set[str]:
    """The ids of the source's runs, once every one has finished."""
    deadline = time.monotonic() + timeout
    while True:
        items = source.api("GET", "/executions?limit=100", source.admin_key)[1]["items"]
        if all(item["status"] in TERMINAL for item in items):
            return {item["execution_id"] for item in items}
        assert time.monotonic() < deadline, "the source's runs did not finish"
        time.sleep(0.1)


def migrate(twin: TwinDeployment, source: LocalDeployment) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MYCLI, "migrate", "--to", "twin", "--data-dir", str(source.home / "data")],
        env=twin.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_local_platform_moves_to_the_twin_and_keeps_working_there(
    deployment: LocalDeployment, source: LocalDeployment
) -> None:
    assert isinstance(deployment, TwinDeployment)
    twin = deployment
    # Given a local platform with a user, a secret, an image and finished runs
    user_key = source.add_user("dev@team.io")
    admin = source.admin_key
    assert source.api("PUT", "/secrets/token", admin, {"value": SECRET})[0] == 200
    assert source.api("POST", "/images", admin, {"name": "tools", "uri": "alpine:3.20"})[0] == 201
    mixed = source.mycli("exec", "--detach", "--", MIXED, key=user_key, check=True).stdout.strip()
    for number in range(RUNS - 1):
        status, _ = source.api("POST", "/executions", admin, {"command": f"echo run {number}"})
        assert status == 202
    ids = finished_runs(source)

    # When a migration is killed after its first progress report, then run again
    cut = migrate(twin, source)
    assert cut.stderr is not None
    for line in cut.stderr:
        if "executions 25/" in line:
            cut.send_signal(signal.SIGKILL)
            break
    cut.wait(timeout=60)
    assert cut.returncode == -signal.SIGKILL
    resumed = migrate(twin, source)
    _, resumed_err = resumed.communicate(timeout=120)

    # Then it finished what the first had left, and moved no secret into its output
    assert resumed.returncode == 0, resumed_err
    assert f"executions {RUNS}/{RUNS}" in resumed_err
    moved = int(resumed_err.split("executions ")[-1].split(" moved")[0])
    assert 0 < moved < RUNS, resumed_err
    assert SECRET not in resumed_err
    # ...and `list`, `logs` and a run with the migrated user's key work on the twin
    on_twin = json.loads(
        twin.mycli("--profile", "twin", "list", "--limit", "100", "-o", "json", check=True).stdout
    )
    assert {item["execution_id"] for item in on_twin["items"]} == ids
    assert output_of(twin, "logs", mixed) == output_of(source, "logs", mixed)
    assert twin.execution(mixed)["exit_code"] == 3
    ran = twin.mycli("exec", "--", "printf hello", key=user_key, timeout=120)
    assert (ran.returncode, ran.stdout) == (0, "hello"), ran.stderr
    names = [s["name"] for s in twin.api("GET", "/secrets", twin.admin_key)[1]["items"]]
    assert names == ["token"]
    # ...and one more migration changes nothing
    again = migrate(twin, source)
    _, again_err = again.communicate(timeout=120)
    assert again.returncode == 0, again_err
    assert f"executions 0 moved, {RUNS} already there" in again_err
    assert "users 0 moved" in again_err and "secrets 0 moved" in again_err
