"""`mycli doctor` against a real `mycli local up`: every phase passes with its time, its run
is a check that only `mycli list --checks` lists, and a bad key fails the verdict."""

from __future__ import annotations

import json
import re

import pytest

from deployment import LocalDeployment

pytestmark = [pytest.mark.e2e, pytest.mark.both_backends]
PHASES = (
    "health",
    "version",
    "key",
    "API round trip",
    "lock taken",
    "PENDING → RUNNING",
    "first log line",
    "exit code recorded",
    "lock released",
)


def test_doctor_passes_every_phase_against_the_embedded_platform(
    deployment: LocalDeployment,
) -> None:
    result = deployment.mycli("doctor", "--timeout", "30")

    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    for phase in PHASES:
        pattern = rf"ok +{re.escape(phase)} +\d+\.\d{{3}}s "
        assert len([line for line in lines if re.match(pattern, line)]) == 1, phase
    assert "'mycli-doctor'" in result.stderr
    assert "SUCCEEDED, exit code 0" in result.stderr
    assert lines[-1] == f"mycli doctor: all {len(PHASES)} checks passed"
    assert deployment.locks() == []
    # Its run is a check: out of everyone's `mycli list`, in `mycli list --checks`
    assert not json.loads(deployment.mycli("list", "-o", "json", check=True).stdout)["items"]
    listing = json.loads(deployment.mycli("list", "--checks", "-o", "json", check=True).stdout)
    [execution] = listing["items"]
    assert execution["command"] == "echo mycli-doctor"
    assert execution["purpose"] == "check"
    assert execution["lock_name"].startswith("mycli-doctor-")
    assert (execution["status"], execution["exit_code"]) == ("SUCCEEDED", 0)
    status = deployment.mycli("status", execution["execution_id"], "-o", "json", check=True)
    assert json.loads(status.stdout)["purpose"] == "check"
    logs = deployment.mycli("logs", execution["execution_id"], check=True)
    assert logs.stdout == "mycli-doctor\n"
    table = deployment.mycli("list", "--checks", check=True).stdout.splitlines()
    assert "PURPOSE" in table[0] and "check" in table[1]


def test_a_bad_key_fails_the_verdict_and_the_exit_code(deployment: LocalDeployment) -> None:
    result = deployment.mycli("doctor", key="not-a-key")

    assert result.returncode == 1
    assert re.search(r"FAIL key +\d+\.\d{3}s ", result.stderr)
    assert result.stderr.splitlines()[-1] == "mycli doctor: FAILED (key)"
