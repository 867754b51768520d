"""What a run sees (docs/run-environment.md), on both backends: HOME, USER and LOGNAME set,
a PATH without mycli's own venv, none of the server's variables; a timeout's one code."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from deployment import LocalDeployment, backend

pytestmark = [pytest.mark.e2e, pytest.mark.both_backends]

# The host's own markers a run's processes carry (the embedded runner tracks them by theirs;
# the twin finds a container's processes by its own, as docs/aws-twin.md says).
MARKERS = {
    "embedded": {"MYCLI_EXECUTION_ID", "MYCLI_RUNNER"},
    "twin": {"MYCLI_TWIN_RUN", "MYCLI_TWIN_CONTAINER"},
}
PRINT_ENV = "python3 -c 'import json, os, sys; print(json.dumps([dict(os.environ), sys.prefix]))'"


def run_env(deployment: LocalDeployment, *options: str) -> tuple[dict[str, str], str]:
    result = deployment.mycli("exec", *options, "--", PRINT_ENV, check=True)
    env, prefix = json.loads(result.stdout)
    return env, prefix


def test_a_run_has_home_user_logname_and_a_clean_path(deployment: LocalDeployment) -> None:
    env, python_prefix = run_env(deployment)

    assert env["USER"] == env["LOGNAME"] == "mycli"
    assert env["PWD"] == env["HOME"]  # HOME is the run's working directory
    assert env["LANG"] == "C.UTF-8"
    venv_bin = str(Path(sys.executable).parent)
    assert venv_bin not in env["PATH"].split(os.pathsep)
    assert python_prefix != sys.prefix  # a `pip install` in a run cannot reach mycli's venv
    assert "VIRTUAL_ENV" not in env


def test_a_run_sees_none_of_the_servers_variables(deployment: LocalDeployment) -> None:
    env, _ = run_env(deployment)

    mycli_names = {name for name in env if name.startswith("MYCLI_")}
    assert mycli_names == MARKERS[backend()]
    assert "PYTHONPATH" not in env
    if backend() == "embedded":
        assert not [name for name in env if name.startswith("AWS_")]
        assert "XDG_CONFIG_HOME" not in env
    else:  # the task role's (the twin: its fake credentials and endpoints), nothing of the API
        assert env["AWS_EXECUTION_ENV"] == "AWS_ECS_FARGATE"
        assert "MYCLI_MANIFEST_URL" not in env


def test_the_runs_own_values_replace_the_defaults(deployment: LocalDeployment) -> None:
    env, _ = run_env(deployment, "--env", "USER=alice", "--env", "HOME=/tmp")

    assert (env["USER"], env["LOGNAME"], env["HOME"]) == ("alice", "mycli", "/tmp")


def test_a_timed_out_run_is_124_everywhere(deployment: LocalDeployment) -> None:
    result = deployment.mycli("exec", "--timeout", "1", "--", "sleep 30")
    [execution] = json.loads(deployment.mycli("list", "-o", "json", check=True).stdout)["items"]
    status = deployment.mycli("status", execution["execution_id"], check=True).stdout
    listed = deployment.mycli("list", check=True).stdout

    assert result.returncode == 124
    assert (execution["status"], execution["exit_code"]) == ("TIMED_OUT", 124)
    assert [line.split()[-1] for line in status.splitlines() if "exit_code" in line] == ["124"]
    [row] = [line for line in listed.splitlines() if "TIMED_OUT" in line]
    assert "124" in row.split()
