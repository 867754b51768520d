"""The CLI's behaviour: output formats, exit codes, one-line errors, config."""

from __future__ import annotations

import base64
import json
import stat
import tomllib

import pytest

from cli_harness import CliHarness
from mycli import exitcodes


def test_whoami_names_the_user_and_server(harness: CliHarness) -> None:
    result = harness.run("whoami")
    assert result.exit_code == 0
    assert result.stdout == f"user@example.com (user) at {harness.url}\n"


def test_exec_prints_the_output_and_exits_with_the_commands_code(harness: CliHarness) -> None:
    result = harness.run("exec", "--", "echo out; echo err >&2; exit 7")

    assert result.exit_code == 7
    assert result.stdout == "out\n"
    assert result.stderr.count("err\n") == 1
    assert "FAILED: exited with code 7" in result.stderr


def test_exec_with_several_arguments_quotes_them(harness: CliHarness) -> None:
    result = harness.run("exec", "--", "printf", "%s|", "a b", "$HOME")
    assert (result.exit_code, result.stdout) == (0, "a b|$HOME|")


def test_exec_passes_env_and_never_stores_values(harness: CliHarness) -> None:
    result = harness.run(
        "exec",
        "-e",
        "TOKEN=s3cret",
        "-e",
        "FROM_HERE",
        "--",
        "echo $TOKEN $FROM_HERE",
        env={"FROM_HERE": "local"},
    )
    assert result.stdout == "s3cret local\n"
    listed = harness.run("list", "--output", "json")
    assert "s3cret" not in listed.stdout
    assert json.loads(listed.stdout)["items"][0]["env_names"] == ["FROM_HERE", "TOKEN"]


def test_exec_timeout_exits_124(harness: CliHarness) -> None:
    result = harness.run("exec", "--timeout", "1", "--", "sleep 5")
    assert result.exit_code == exitcodes.EXEC_TIMED_OUT
    assert "TIMED_OUT" in result.stderr


def test_a_held_lock_is_one_line_naming_the_holder_and_exit_125(harness: CliHarness) -> None:
    holder = harness.run("exec", "--detach", "--lock", "prod", "--", "sleep 5").stdout.strip()

    result = harness.run("exec", "--lock", "prod", "--", "true", key=harness.admin_key)

    assert result.exit_code == exitcodes.EXEC_COULD_NOT_RUN
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert f"held by user@example.com (execution {holder}, " in result.stderr
    assert "; to wait for it: --wait-lock DURATION (e.g. 10m)" in result.stderr
    harness.run("cancel", holder)


def test_wait_lock_queues_behind_the_holder_and_runs_when_it_ends(harness: CliHarness) -> None:
    harness.run("exec", "--detach", "--lock", "prod", "--", "sleep 3")

    result = harness.run("exec", "--lock", "prod", "--wait-lock", "10", "--", "echo got it")

    assert (result.exit_code, result.stdout) == (0, "got it\n"), result.stderr
    assert "mycli: queued for 'prod': 1st in line, behind user@example.com's run " in (
        result.stderr
    )


def test_detach_prints_the_id_and_status_shows_it(harness: CliHarness) -> None:
    execution_id = harness.run("exec", "-d", "--", "exit 0").stdout.strip()
    harness.run("logs", "-f", execution_id)

    table = harness.run("status", execution_id)
    as_json = json.loads(harness.run("status", execution_id, "-o", "json").stdout)

    assert ["execution_id", execution_id] in [line.split() for line in table.stdout.splitlines()]
    assert as_json["status"] == "SUCCEEDED"


def test_logs_follow_prints_everything_once(harness: CliHarness) -> None:
    execution_id = harness.run(
        "exec", "-d", "--", "for i in 1 2 3; do echo $i; sleep 0.2; done"
    ).stdout.strip()

    followed = harness.run("logs", "-f", execution_id)
    again = harness.run("logs", "--output", "json", execution_id)

    assert followed.stdout == "1\n2\n3\n"
    chunks = [json.loads(line) for line in again.stdout.splitlines()]
    assert b"".join(base64.b64decode(c["data"]) for c in chunks) == b"1\n2\n3\n"
    assert {c["stream"] for c in chunks} == {"stdout"}


def test_list_table_and_json(harness: CliHarness) -> None:
    harness.run("exec", "--", "echo hi")
    table = harness.run("list")
    data = json.loads(harness.run("list", "-o", "json").stdout)

    assert table.stdout.splitlines()[0].split() == [
        "EXECUTION",
        "STATUS",
        "EXIT",
        "USER",
        "STARTED",
        "DURATION",
        "LOCK",
        "COMMAND",
    ]
    assert "SUCCEEDED" in table.stdout
    assert "just now" in table.stdout or " ago " in table.stdout, "relative start times"
    assert data["items"][0]["command"] == "echo hi"
    assert data["items"][0]["started_at"].endswith("Z"), "JSON keeps ISO timestamps"


def test_an_unknown_execution_is_exit_4(harness: CliHarness) -> None:
    result = harness.run("status", "does-not-exist")
    assert result.exit_code == exitcodes.NOT_FOUND
    assert result.stderr == "mycli: error: execution does-not-exist not found\n"


def test_a_bad_key_is_one_line_and_exit_3(harness: CliHarness) -> None:
    result = harness.run("whoami", key="mycli_wrong")
    assert result.exit_code == exitcodes.AUTH
    assert result.stderr == "mycli: error: invalid or revoked API key\n"


def test_an_unreachable_server_is_one_line(harness: CliHarness) -> None:
    result = harness.run("list", env={"MYCLI_API_URL": "http://127.0.0.1:9"})
    assert result.exit_code == exitcodes.FAILURE
    assert result.stderr.startswith(
        "mycli: error: cannot reach http://127.0.0.1:9: connection refused"
    )
    assert result.stderr.count("\n") == 1


def test_exec_against_an_unreachable_server_exits_125(harness: CliHarness) -> None:
    result = harness.run("exec", "--", "true", env={"MYCLI_API_URL": "http://127.0.0.1:9"})
    assert result.exit_code == exitcodes.EXEC_COULD_NOT_RUN


def test_a_missing_configuration_says_what_to_do(harness: CliHarness) -> None:
    result = harness.run("whoami", env={"MYCLI_API_URL": "", "MYCLI_API_KEY": ""})
    assert result.exit_code == exitcodes.USAGE
    assert "run `mycli local up` or `mycli configure`" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("exec", "-e", "1X=y", "--", "true"), "invalid variable name"),
        (("exec", "-e", "UNSET_HERE_X", "--", "true"), "is not set locally"),
        (("exec", "--lock", "bad name", "--", "true"), "lock"),
        (("exec", "--timeout", "0", "--", "true"), "--timeout"),
        (("list", "--limit", "500"), "--limit"),
    ],
)
def test_bad_input_is_a_usage_error(
    harness: CliHarness, args: tuple[str, ...], message: str
) -> None:
    result = harness.run(*args)
    assert result.exit_code == exitcodes.USAGE
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_admin_commands(harness: CliHarness) -> None:
    added = harness.run("admin", "add-user", "new@example.com", key=harness.admin_key)
    new_key = added.stdout.strip()
    assert new_key.startswith("mycli_")
    assert "shown" not in added.stdout and "cannot be shown again" in added.stderr
    assert harness.run("whoami", key=new_key).stdout.startswith("new@example.com (user)")

    listed = json.loads(
        harness.run("admin", "list-users", "-o", "json", key=harness.admin_key).stdout
    )
    assert {u["email"] for u in listed} == {
        "admin@example.com",
        "user@example.com",
        "new@example.com",
    }

    assert (
        harness.run("admin", "revoke-user", "new@example.com", key=harness.admin_key).exit_code == 0
    )
    assert harness.run("whoami", key=new_key).exit_code == exitcodes.AUTH


def test_users_cannot_use_admin_commands(harness: CliHarness) -> None:
    result = harness.run("admin", "list-users")
    assert result.exit_code == exitcodes.AUTH
    assert result.stderr == "mycli: error: this needs the admin role\n"
    # A user may release their own hold, not a lock someone else's run holds
    holder = harness.run("exec", "-d", "--lock", "x", "--", "sleep 5", key=harness.admin_key)
    assert harness.run("locks", "release", "x").exit_code == exitcodes.AUTH
    harness.run("cancel", holder.stdout.strip(), key=harness.admin_key)


def test_locks_list_and_release(harness: CliHarness) -> None:
    holder = harness.run("exec", "-d", "--lock", "infra/prod", "--", "sleep 5").stdout.strip()

    listed = json.loads(harness.run("locks", "list", "-o", "json").stdout)["locks"]
    released = harness.run("locks", "release", "infra/prod", key=harness.admin_key)

    assert [(lock["name"], lock["holder"]["execution_id"]) for lock in listed] == [
        ("infra/prod", holder)
    ]
    assert released.stdout.startswith("released lock 'infra/prod'")
    assert "now without the lock; stop it with: mycli cancel" in released.stderr
    assert json.loads(harness.run("locks", "list", "-o", "json").stdout) == {"locks": []}
    harness.run("cancel", holder)


def test_configure_verifies_and_writes_a_private_profile(harness: CliHarness) -> None:
    result = harness.run(
        "--profile",
        "work",
        "configure",
        "--api-url",
        harness.url,
        "--api-key",
        harness.user_key,
        env={"MYCLI_API_URL": "", "MYCLI_API_KEY": ""},
    )
    path = harness.config_home / "mycli" / "config.toml"

    assert result.exit_code == 0, result.stderr
    assert "as user@example.com (user)" in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = tomllib.loads(path.read_text())
    assert config["current_profile"] == "work"
    assert config["profiles"]["work"] == {"api_url": harness.url, "api_key": harness.user_key}
    whoami = harness.run("whoami", env={"MYCLI_API_URL": "", "MYCLI_API_KEY": ""})
    assert whoami.stdout.startswith("user@example.com")


def test_configure_refuses_a_key_that_does_not_work(harness: CliHarness) -> None:
    result = harness.run("configure", "--api-url", harness.url, "--api-key", "mycli_bad")
    assert result.exit_code == exitcodes.AUTH
    assert "not saved" in result.stderr
    assert not (harness.config_home / "mycli" / "config.toml").exists()


def test_an_unknown_profile_is_named(harness: CliHarness) -> None:
    result = harness.run("--profile", "nope", "whoami", env={"MYCLI_API_URL": ""})
    assert result.exit_code == exitcodes.USAGE
    assert "no profile named 'nope'" in result.stderr
