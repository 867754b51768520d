"""`mycli exec`'s command line against a real `mycli local up`: an exec option after the
command without `--` is refused before anything starts, `--` hands it to the command byte
for byte, and `--timeout` takes a duration (`2s` times out as `2` does)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from deployment import MYCLI, LocalDeployment, running_deployment

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    with running_deployment(tmp_path_factory.mktemp("execargs")) as local:
        yield local


def executions(platform: LocalDeployment) -> list[dict[str, Any]]:
    listed = platform.mycli("list", "-o", "json", "--limit", "100", check=True)
    items: list[dict[str, Any]] = json.loads(listed.stdout)["items"]
    return items


def test_a_lock_after_the_command_is_refused_and_with_the_separator_reaches_it(
    platform: LocalDeployment,
) -> None:
    before = executions(platform)

    refused = platform.mycli("exec", "printf", "%s|", "--lock", "infra-prod")

    assert refused.returncode == 2
    assert "`--lock infra-prod` comes after the command" in refused.stderr
    assert "(`mycli exec --lock infra-prod printf '%s|'`)" in refused.stderr
    assert "(`mycli exec -- printf '%s|' --lock infra-prod`)" in refused.stderr
    assert executions(platform) == before  # never started: nothing recorded
    assert platform.locks() == []

    passed = subprocess.run(
        [MYCLI, "exec", "--", "printf", "%s|", "--lock", "infra-prod", "-d", "-eK=\xe9"],
        env=platform.env,
        capture_output=True,
        check=False,
    )

    assert (passed.returncode, passed.stdout) == (0, "--lock|infra-prod|-d|-eK=\xe9|".encode())
    assert len(executions(platform)) == len(before) + 1


def test_timeout_2s_times_out_as_timeout_2_does(platform: LocalDeployment) -> None:
    results = [
        platform.mycli("exec", "--timeout", timeout, "--", "sleep 30") for timeout in ("2", "2s")
    ]

    assert [result.returncode for result in results] == [124, 124]
    assert all("TIMED_OUT" in result.stderr for result in results)
    timed_out = [item for item in executions(platform) if item["command"] == "sleep 30"]
    assert [(item["status"], item["timeout_seconds"]) for item in timed_out] == [
        ("TIMED_OUT", 2),
        ("TIMED_OUT", 2),
    ]


def test_a_bad_duration_is_refused_in_words(platform: LocalDeployment) -> None:
    before = executions(platform)

    result = platform.mycli("exec", "--timeout", "5 minutes", "--", "true")

    assert result.returncode == 2
    assert "'5 minutes' is not a duration" in " ".join(result.stderr.split())
    assert executions(platform) == before
