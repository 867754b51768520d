"""The run's environment (orchestrator/agent/environment.py), built once for both hosts."""

from __future__ import annotations

from orchestrator.agent.environment import DEFAULT_PATH, RUN_USER, host_path, run_environment


def test_a_run_gets_home_user_logname_and_lang_under_its_own_values() -> None:
    env = run_environment(home="/w", variables={"STAGE": "blue", "LANG": "fr_FR.UTF-8"})

    assert env == {
        "HOME": "/w",
        "USER": RUN_USER,
        "LOGNAME": RUN_USER,
        "LANG": "fr_FR.UTF-8",
        "STAGE": "blue",
    }


def test_without_a_path_the_image_keeps_its_own() -> None:
    assert "PATH" not in run_environment(home="/w", variables={})


def test_the_hosts_markers_win_over_the_runs_values() -> None:
    env = run_environment(
        home="/w", variables={"MARK": "forged"}, path="/bin", markers={"MARK": "real"}
    )

    assert env["MARK"] == "real"
    assert env["PATH"] == "/bin"


def test_the_host_path_leaves_out_mycli_s_own_environment() -> None:
    path = "/opt/venv/bin:/usr/local/bin:/opt/venv/lib/../bin:/usr/bin:/opt/venvx/bin"

    assert host_path(path, ("/opt/venv",)) == "/usr/local/bin:/usr/bin:/opt/venvx/bin"


def test_a_path_of_only_mycli_s_environment_becomes_the_default() -> None:
    assert host_path("/opt/venv/bin", ("/opt/venv",)) == DEFAULT_PATH
