"""`mycli playbooks list|show` and `mycli run` in-process, against a real local server:
a playbook runs through exec's own code (its options, output and exit codes), the file's
keys give way to the command line, and a bad playbook never reaches the server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import pytest

from cli_harness import CliHarness
from mycli.commands.exec_command import exec_command
from mycli.commands.playbooks import EXEC_OPTION_OF_KEY, complete_names, run
from mycli.playbooks.model import Playbook
from orchestrator.domain.models import Caller, Role
from playbook_repo import executions, make_repo, write


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_repo(tmp_path, monkeypatch)


def test_run_takes_exactly_exec_s_options() -> None:
    # The options come from one declaration, so they cannot drift apart
    def options(command: click.Command) -> list[tuple[str, ...]]:
        # (--profile is added to each command as `mycli` first loads it: not exec's own)
        options = [tuple(p.opts) for p in command.params if isinstance(p, click.Option)]
        return [opts for opts in options if "--profile" not in opts]

    assert options(run) == [("--param",), *options(exec_command)]


def test_every_exec_key_of_the_model_is_mapped() -> None:
    mapped = set(EXEC_OPTION_OF_KEY)
    assert mapped == set(Playbook.model_fields) - {"description", "command", "params"}


def test_run_streams_the_output_exits_with_the_code_and_records_the_playbook(
    harness: CliHarness, repo: Path
) -> None:
    result = harness.run("run", "greet", "--param", "who=ada", "--param", "code=3")

    assert (result.exit_code, result.stdout) == (3, "hello ada\n")
    assert "mycli: playbook greet: who='ada', code='3'\n" in result.stderr
    assert "FAILED: exited with code 3" in result.stderr
    # The record keeps the command as it ran (the params as variables, their values not
    # stored, like any env value) and the variables' names
    [execution] = executions(harness)
    assert execution["playbook"] == "greet"
    assert execution["command"] == (
        'echo "$GREETING" "${MYCLI_PARAM_WHO}"; exit "${MYCLI_PARAM_CODE}"'
    )
    assert execution["env_names"] == ["GREETING", "MYCLI_PARAM_CODE", "MYCLI_PARAM_WHO"]
    assert (execution["lock_name"], execution["timeout_seconds"]) == ("greet/ada", 60)
    status = harness.run("status", str(execution["execution_id"])).stdout
    assert ["playbook", "greet"] in [line.split() for line in status.splitlines()]


def test_command_line_options_win_over_the_file(harness: CliHarness, repo: Path) -> None:
    result = harness.run(
        "run", "greet", "--lock", "mine", "--timeout", "30", "-e", "GREETING=hi", "-e", "X=1"
    )

    assert (result.exit_code, result.stdout) == (0, "hi world\n")
    [execution] = executions(harness)
    assert (execution["lock_name"], execution["timeout_seconds"]) == ("mine", 30)
    assert execution["env_names"] == ["GREETING", "MYCLI_PARAM_CODE", "MYCLI_PARAM_WHO", "X"]


def test_run_detached_prints_json_like_exec(harness: CliHarness, repo: Path) -> None:
    result = harness.run("run", "greet", "--detach", "-o", "json")

    assert result.exit_code == 0
    assert set(json.loads(result.stdout)) == {"execution_id", "status"}


def test_a_list_command_runs_its_arguments_quoted(harness: CliHarness, repo: Path) -> None:
    write(
        repo,
        "args.yml",
        """
        description: arguments
        command: [printf, "%s|", "{{ params.text }}", "$HOME"]
        params:
          text: {description: any text}
        """,
    )

    result = harness.run("run", "args", "--param", "text=a b; exit 9")

    assert (result.exit_code, result.stdout) == (0, "a b; exit 9|$HOME|")


@pytest.mark.parametrize("upload", ["..", "/etc", "link"])
def test_an_upload_leading_out_of_the_repository_is_refused(
    harness: CliHarness, repo: Path, upload: str
) -> None:
    (repo / "link").symlink_to(repo.parent)
    write(repo, "leak.yml", f"description: leak\ncommand: ls\nupload: {upload}\n")

    result = harness.run("run", "leak")
    overridden = harness.run("run", "leak", "--upload", str(repo))
    listed = harness.run("playbooks", "list")
    shown = harness.run("playbooks", "show", "leak")

    # Then run refuses it (even when --upload replaces it), and so do list and show
    for refused in (result, overridden, listed, shown):
        assert refused.exit_code == 2
        assert "leak.yml:3: upload" in refused.stderr
        assert "outside the repository" in refused.stderr
    assert executions(harness) == []


def test_image_and_size_keys_run_on_that_image_and_the_command_line_wins(
    harness: CliHarness, repo: Path
) -> None:
    # Given an image and a playbook that asks for it with a size
    registered = harness.run(
        "admin",
        "images",
        "register",
        "tools",
        "--image",
        "python:3.12",
        "--cpu",
        "512",
        "--memory",
        "2048",
        "--max-memory",
        "4096",
        key=harness.admin_key,
    )
    assert registered.exit_code == 0, registered.stderr
    write(repo, "img.yml", "description: image\ncommand: 'true'\nimage: tools\nmemory: 1024\n")

    # When it runs as written, then with a memory given on the command line
    as_written = harness.run("run", "img")
    overridden = harness.run("run", "img", "--memory", "4096")

    # Then both ran on the image; the file's size, then the command line's
    assert (as_written.exit_code, overridden.exit_code) == (0, 0), overridden.stderr
    first, second = sorted(executions(harness), key=lambda e: str(e["started_at"]))
    assert (first["image"], first["memory"], first["playbook"]) == ("tools", 1024, "img")
    assert (second["image"], second["memory"]) == ("tools", 4096)


def test_a_file_value_exec_would_refuse_is_refused_at_its_line(
    harness: CliHarness, repo: Path
) -> None:
    write(repo, "gone.yml", "description: gone\ncommand: ls\nupload: missing\n")

    result = harness.run("run", "gone")

    assert result.exit_code == 2
    assert "gone.yml:3: upload 'missing': no such directory" in result.stderr


def test_a_git_source_exec_would_refuse_is_refused_at_its_line(
    harness: CliHarness, repo: Path
) -> None:
    write(repo, "ext.yml", 'description: ext\ncommand: ls\ngit: "ext::sh -c id"\n')
    write(repo, "sub.yml", "description: s\ncommand: ls\ngit: file:///r\ngit_subdir: /etc\n")

    url = harness.run("run", "ext")
    subdir = harness.run("run", "sub")

    assert url.exit_code == 2
    assert "ext.yml:3: git: git_url must not contain blanks" in url.stderr, url.stderr
    assert "Invalid value" not in url.stderr
    assert subdir.exit_code == 2
    assert "sub.yml:4: git_subdir: git_subdir must be relative" in subdir.stderr, subdir.stderr
    assert executions(harness) == []


def test_an_unknown_playbook_is_4(harness: CliHarness, repo: Path) -> None:
    result = harness.run("run", "nope")

    assert result.exit_code == 4
    assert "no playbook 'nope'" in result.stderr
    assert "there: greet" in result.stderr


def test_list_names_describes_and_locates_each_playbook(harness: CliHarness, repo: Path) -> None:
    table = harness.run("playbooks", "list")
    listed = json.loads(harness.run("playbooks", "list", "-o", "json").stdout)

    assert table.exit_code == 0
    assert table.stdout.splitlines()[1].split() == [
        "greet",
        "Greet",
        "someone",
        "../.mycli/playbooks/greet.yml",
    ]
    assert listed == [
        {
            "name": "greet",
            "description": "Greet someone",
            "file": "../.mycli/playbooks/greet.yml",
            "params": ["who", "code"],
        }
    ]


def test_list_shows_the_valid_ones_and_exits_2_naming_the_bad_one(
    harness: CliHarness, repo: Path
) -> None:
    write(repo, "bad.yml", "description: bad\ncommand: 'true'\ntimeout: soon\n")

    result = harness.run("playbooks", "list", "-o", "json")

    assert result.exit_code == 2
    assert [item["name"] for item in json.loads(result.stdout)] == ["greet"]
    assert "bad.yml:3: timeout: Input should be a valid integer" in result.stderr


def test_list_without_playbooks_says_so(
    harness: CliHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = harness.run("playbooks", "list", "-o", "json")

    assert (result.exit_code, json.loads(result.stdout)) == (0, [])
    assert "no .mycli/playbooks/" in result.stderr


def test_show_prints_the_keys_and_params(harness: CliHarness, repo: Path) -> None:
    shown = harness.run("playbooks", "show", "greet")
    data = json.loads(harness.run("playbooks", "show", "greet", "-o", "json").stdout)

    assert 'command      echo "$GREETING" {{ params.who }}; exit {{ params.code }}' in shown.stdout
    assert "PARAM  TYPE                 DEFAULT  DESCRIPTION\n" in shown.stdout
    assert "code   matching [0-9]{1,3}  0        exit code\n" in shown.stdout
    assert data["params"]["who"] == {"description": "who to greet", "default": "world"}
    assert (data["name"], data["timeout"]) == ("greet", 60)


def test_shell_completion_offers_the_playbook_names(repo: Path) -> None:
    write(repo, "deploy.yaml", "description: d\ncommand: 'true'\n")
    ctx = click.Context(run)

    assert complete_names(ctx, run.params[0], "") == ["deploy", "greet"]
    assert complete_names(ctx, run.params[0], "g") == ["greet"]


def test_git_and_secrets_keys_run_the_checkout_with_the_secret_masked(
    harness: CliHarness, repo: Path, tmp_path: Path
) -> None:
    # Given a repository on disk, a stored secret, and a playbook naming both
    origin = tmp_path / "origin"
    git = ["git", "-C", str(origin), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(origin)], check=True)
    (origin / "hello.txt").write_text("hello from git\n")
    subprocess.run([*git, "add", "hello.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    secrets = harness.platform.services.secrets
    assert secrets is not None
    secrets.set(Caller("admin@example.com", Role.ADMIN), "api-token", "s3cr3t-value-42")
    write(
        repo,
        "deploy.yml",
        f'description: deploy\ncommand: cat hello.txt; echo "$TOKEN"\n'
        f"git: file://{origin}#main\nsecrets: [TOKEN=api-token]\n",
    )

    # When it runs
    result = harness.run("run", "deploy")

    # Then the command ran in the checkout with the secret, masked, and the record says so
    assert (result.exit_code, result.stdout) == (0, "hello from git\n***\n"), result.stderr
    (execution,) = executions(harness)
    assert (execution["git_commit"], execution["secret_names"]) == (commit, ["TOKEN=api-token"])
    assert execution["playbook"] == "deploy"


REFUSED_WHATEVER_THE_PARAMS = {
    "nolock": ('lock: ""\n', "nolock.yml:3: lock: '': lock names are 1-128 characters"),
    "many": (
        "secrets: [" + ", ".join(f"S{i}" for i in range(21)) + "]\n",
        "many.yml:3: secrets: 21 secrets, over the limit of 20 per run",
    ),
    "clear": (
        "git: http://example.com/x.git\ngit_secret: tok\n",
        "clear.yml:4: git_secret: git_secret goes only over https://",
    ),
}


def test_list_and_run_refuse_alike_at_the_line(harness: CliHarness, repo: Path) -> None:
    # Given playbooks only `run` used to refuse, some without a line or naming options
    for name, (keys, _) in REFUSED_WHATEVER_THE_PARAMS.items():
        write(repo, f"{name}.yml", f"description: {name}\ncommand: ls\n{keys}")

    listed = harness.run("playbooks", "list")

    assert listed.exit_code == 2
    for name, (_, said) in REFUSED_WHATEVER_THE_PARAMS.items():
        ran = harness.run("run", name)
        shown = harness.run("playbooks", "show", name)
        assert said in listed.stderr, listed.stderr
        assert (ran.exit_code, shown.exit_code) == (2, 2)
        assert said in ran.stderr and said in shown.stderr, ran.stderr
        assert "Invalid value for --" not in ran.stderr
    assert executions(harness) == []


def test_wait_lock_without_a_lock_is_listed_and_run_says_how_to_give_one(
    harness: CliHarness, repo: Path
) -> None:
    write(repo, "waits.yml", "description: w\ncommand: echo ran\nwait_lock: 5\n")

    listed = harness.run("playbooks", "list")
    without = harness.run("run", "waits")
    with_lock = harness.run("run", "waits", "--lock", "ci/one")

    assert listed.exit_code == 0 and "waits" in listed.stdout, listed.stderr
    assert without.exit_code == 2
    assert "waits.yml:3: wait_lock needs a lock: add `lock:` or pass --lock" in without.stderr, (
        without.stderr
    )
    assert "--wait-lock needs --lock" not in without.stderr
    assert (with_lock.exit_code, with_lock.stdout) == (0, "ran\n"), with_lock.stderr
    [execution] = executions(harness)
    assert execution["lock_name"] == "ci/one"


def test_a_wait_lock_given_on_the_command_line_is_exec_s_own_mistake(
    harness: CliHarness, repo: Path
) -> None:
    write(repo, "plain.yml", "description: p\ncommand: echo ran\n")

    result = harness.run("run", "plain", "--wait-lock", "5")

    assert result.exit_code == 2
    assert "--wait-lock needs --lock" in result.stderr
