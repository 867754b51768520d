"""`mycli run` with params, in-process against a real local server: hostile values reach
the command as text, references the shell would not expand are refused by run and list, and
every playbook input over a limit is exit 2 before anything starts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cli_harness import CliHarness
from playbook_repo import executions, make_repo, write


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_repo(tmp_path, monkeypatch)


@pytest.mark.parametrize(
    ("args", "where", "what"),
    [
        (("--param", "who=a b"), "greet.yml:3", "lock 'greet/a b'"),
        (("--param", "code=1;reboot"), "greet.yml:9", "does not match the pattern"),
        (("--param", "colour=red"), "greet.yml:7", "unknown --param 'colour'"),
        (("--wait-lock", "5"), "", "--wait-lock"),  # still needs a lock: exec's own check
        # The params' variables are theirs alone
        (("-e", "MYCLI_PARAM_WHO=x"), "--env", "MYCLI_PARAM_WHO: names starting with"),
        (("--secret", "MYCLI_PARAM_CODE=t"), "--secret", "MYCLI_PARAM_CODE: names starting"),
        # Over a limit: exit 2 before anything starts
        (("--param", "who=" + "a" * 8193), "greet.yml:8", "is 8193 characters, over the limit"),
        (
            (
                "-e",
                "A=" + "a" * 8000,
                "-e",
                "B=" + "b" * 8000,
                "--param",
                "who=" + "w" * 400,
                "--lock",
                "x",
            ),
            "greet.yml:7",
            "bytes, over the limit of 16384",
        ),
    ],
)
def test_a_refused_run_exits_2_and_starts_nothing(
    harness: CliHarness, repo: Path, args: tuple[str, ...], where: str, what: str
) -> None:
    write(repo, "nolock.yml", "description: no lock\ncommand: 'true'\n")
    name = "nolock" if "--wait-lock" in args else "greet"

    result = harness.run("run", name, *args)

    assert result.exit_code == 2, result.stderr
    assert where in result.stderr and what in result.stderr, result.stderr
    assert executions(harness) == []


@pytest.mark.parametrize("payload", ["$(id -un)`echo INJECTED`", "x'; echo INJECTED2; '"])
@pytest.mark.parametrize(
    "command", ['echo "hello {{ params.name }}"', 'echo "hello "{{ params.name }}']
)
def test_a_hostile_param_prints_as_text_inside_or_outside_quotes(
    harness: CliHarness, repo: Path, command: str, payload: str
) -> None:
    # Given the review's playbook (reference inside "...") or the form outside quotes
    write(
        repo,
        "greeting.yml",
        f"description: q\ncommand: {json.dumps(command)}\nparams:\n  name: {{description: who}}\n",
    )

    # When it runs with a hostile value
    ran = harness.run("run", "greeting", "--param", f"name={payload}")

    # Then the value is printed as text
    assert (ran.exit_code, ran.stdout) == (0, f"hello {payload}\n"), ran.stderr


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("echo '{{ params.name }}'", "sits inside single quotes '...', where the shell expands"),
        ("echo \\{{ params.name }}", "follows a backslash, so the shell would not expand it"),
        ("echo $(( {{ params.name }} + 1 ))", "sits inside an arithmetic expansion $((...))"),
    ],
)
def test_a_reference_the_shell_would_not_expand_is_refused_by_run_and_list(
    harness: CliHarness, repo: Path, command: str, why: str
) -> None:
    write(
        repo,
        "odd.yml",
        f"description: q\ncommand: {json.dumps(command)}\nparams:\n  name: {{description: w}}\n",
    )

    refused = harness.run("run", "odd", "--param", "name=1")
    listed = harness.run("playbooks", "list")

    assert refused.exit_code == listed.exit_code == 2
    assert f"odd.yml:2: command: {{{{ params.name }}}} {why}" in refused.stderr
    assert f"odd.yml:2: command: {{{{ params.name }}}} {why}" in listed.stderr
    assert executions(harness) == []


def test_a_4_gib_file_and_tagged_yaml_are_one_line_errors_for_run_list_and_show(
    harness: CliHarness, repo: Path
) -> None:
    # Given a sparse 4 GiB playbook and one with a Python tag on a list
    huge = repo / ".mycli" / "playbooks" / "huge.yml"
    huge.touch()
    os.truncate(huge, 4 * 1024**3)
    write(repo, "tagged.yml", "description: t\ncommand: !!python/object/apply:os.system [id]\n")

    # When each is run, listed and shown
    results = {
        name: [
            harness.run("run", name),
            harness.run("playbooks", "show", name),
        ]
        for name in ("huge", "tagged")
    }
    listed = harness.run("playbooks", "list")

    # Then each is exit 2 with one line naming the file, and nothing ran
    for name, what in (
        ("huge", "huge.yml: over the limit of 256 KiB for a playbook"),
        ("tagged", "tagged.yml:2: bad YAML: the tag !!python/object/apply:os.system is not"),
    ):
        for result in results[name]:
            assert result.exit_code == 2
            assert result.stderr.count("\n") == 1 and what in result.stderr, result.stderr
        assert what in listed.stderr
    assert listed.exit_code == 2 and "greet" in listed.stdout
    assert executions(harness) == []
