"""Playbooks end to end: the real `mycli` in a repository's subdirectory against a real
`mycli local up`: list, run with params and overrides, the record naming the playbook, the
command's exit code and signals mirrored, an upload from the repository, and a bad playbook
refused before anything runs."""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from signals import signal_until_acted_on

from deployment import MYCLI, LocalDeployment, running_deployment

pytestmark = pytest.mark.e2e

PLAYBOOKS = {
    "greet.yml": """
        description: Greet someone, then exit with a code
        command: echo "$GREETING," {{ params.who }}; exit {{ params.code }}
        lock: greet/{{ params.who }}
        env:
          GREETING: hello
        params:
          who: {description: who to greet, default: world}
          code: {description: exit code, default: "0", pattern: "[0-9]{1,3}"}
        """,
    "site.yaml": """
        description: Print the site's index from an upload of site/
        command: [cat, index.html]
        upload: site
        """,
    "wait.yml": """
        description: Wait until cancelled
        command: echo started; sleep 30
        """,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    with running_deployment(tmp_path_factory.mktemp("playbooks")) as local:
        yield local


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with playbooks and a site/ directory; returns a subdirectory of it."""
    repo = tmp_path_factory.mktemp("repo")
    directory = repo / ".mycli" / "playbooks"
    directory.mkdir(parents=True)
    for name, text in PLAYBOOKS.items():
        (directory / name).write_text(textwrap.dedent(text).lstrip("\n"))
    (repo / "site").mkdir()
    (repo / "site" / "index.html").write_text("<h1>hi</h1>\n")
    (repo / "src" / "deep").mkdir(parents=True)
    return repo / "src" / "deep"


def mycli(server: LocalDeployment, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MYCLI, *args],
        cwd=cwd,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def recorded(server: LocalDeployment) -> list[dict[str, Any]]:
    """Every execution, newest first."""
    status, page = server.api("GET", "/executions?limit=100", server.admin_key)
    assert status == 200
    return page["items"]  # type: ignore[no-any-return]


def newest(server: LocalDeployment) -> dict[str, Any]:
    return recorded(server)[0]


def test_list_shows_every_playbook_from_a_subdirectory(
    server: LocalDeployment, workdir: Path
) -> None:
    result = mycli(server, workdir, "playbooks", "list", "-o", "json")

    assert result.returncode == 0, result.stderr
    assert [(p["name"], p["file"]) for p in json.loads(result.stdout)] == [
        ("greet", "../../.mycli/playbooks/greet.yml"),
        ("site", "../../.mycli/playbooks/site.yaml"),
        ("wait", "../../.mycli/playbooks/wait.yml"),
    ]


def test_run_with_params_and_overrides_mirrors_the_code_and_names_the_playbook(
    server: LocalDeployment, workdir: Path
) -> None:
    # When a playbook runs with params, an env override and a lock override
    result = mycli(
        server, workdir, "run", "greet", "--param", "who=Ada Lovelace", "--param", "code=3",
        "-e", "GREETING=hi", "--lock", "greeting",
    )  # fmt: skip

    # Then it behaves as `mycli exec` would: the output, the code, the summary line
    assert (result.returncode, result.stdout) == (3, "hi, Ada Lovelace\n"), result.stderr
    assert "mycli: playbook greet: who='Ada Lovelace', code='3'\n" in result.stderr
    assert "FAILED: exited with code 3" in result.stderr
    # And the record names the playbook, with what ran: the params as the variables that
    # carried them (their values, like any env value, are not stored)
    execution = newest(server)
    assert execution["playbook"] == "greet"
    assert execution["command"] == (
        'echo "$GREETING," "${MYCLI_PARAM_WHO}"; exit "${MYCLI_PARAM_CODE}"'
    )
    assert (execution["lock_name"], execution["env_names"]) == (
        "greeting",
        ["GREETING", "MYCLI_PARAM_CODE", "MYCLI_PARAM_WHO"],
    )
    status = server.mycli("status", execution["execution_id"], check=True).stdout
    assert ["playbook", "greet"] in [line.split() for line in status.splitlines()]


def test_run_uploads_a_directory_of_the_repository(server: LocalDeployment, workdir: Path) -> None:
    result = mycli(server, workdir, "run", "site")

    assert (result.returncode, result.stdout) == (0, "<h1>hi</h1>\n"), result.stderr
    assert newest(server)["upload_id"] is not None


def test_an_upload_on_the_command_line_replaces_the_file_s(
    server: LocalDeployment, workdir: Path
) -> None:
    (workdir / "index.html").write_text("<h1>draft</h1>\n")

    result = mycli(server, workdir, "run", "site", "--upload", ".")

    assert (result.returncode, result.stdout) == (0, "<h1>draft</h1>\n"), result.stderr


def test_sigterm_cancels_the_run_like_exec(server: LocalDeployment, workdir: Path) -> None:
    process = subprocess.Popen(
        [MYCLI, "run", "wait"],
        cwd=workdir,
        env=server.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "started\n"

    signal_until_acted_on(process, signal.SIGTERM, "cancelling")

    assert process.wait(timeout=30) == 143
    execution = newest(server)
    assert (execution["playbook"], execution["status"]) == ("wait", "CANCELLED")


def test_a_bad_playbook_is_refused_before_anything_runs(
    server: LocalDeployment, workdir: Path
) -> None:
    # Given a playbook with a typo, next to good ones
    bad = workdir.parents[1] / ".mycli" / "playbooks" / "typo.yml"
    bad.write_text("description: typo\ncommand: 'true'\ntimeot: 30\n")
    before = recorded(server)
    try:
        # When it is run, or a good one with a value its param refuses
        typo = mycli(server, workdir, "run", "typo")
        refused = mycli(server, workdir, "run", "greet", "--param", "code=1; reboot")
        listed = mycli(server, workdir, "playbooks", "list")
    finally:
        bad.unlink()

    # Then each is exit 2 with the file, the line and the problem, and nothing started
    assert typo.returncode == 2
    assert typo.stderr == (
        "mycli: error: ../../.mycli/playbooks/typo.yml:3: unknown key 'timeot' in the "
        "playbook (allowed: description, command, lock, timeout, wait_lock, env, secrets, "
        "image, cpu, memory, git, git_subdir, git_secret, upload, params)\n"
    )
    assert refused.returncode == 2
    assert "greet.yml:8: param code: '1; reboot' does not match the pattern" in refused.stderr
    assert listed.returncode == 2 and "typo.yml:3: unknown key" in listed.stderr
    assert "greet" in listed.stdout
    assert recorded(server) == before


def test_list_refuses_what_run_refuses_each_at_its_line(
    server: LocalDeployment, workdir: Path
) -> None:
    # Given playbooks that only `run` used to refuse (three without FILE:LINE)
    directory = workdir.parents[1] / ".mycli" / "playbooks"
    files = {
        "nolock.yml": ('lock: ""\n', "nolock.yml:3: lock: '': lock names are"),
        "many.yml": (
            "secrets: [" + ", ".join(f"S{i}" for i in range(21)) + "]\n",
            "many.yml:3: secrets: 21 secrets, over the limit of 20 per run",
        ),
        "clear.yml": (
            "git: http://example.com/x.git\ngit_secret: tok\n",
            "clear.yml:4: git_secret: git_secret goes only over https://",
        ),
        "waits.yml": ("wait_lock: 5\n", "waits.yml:3: wait_lock needs a lock: add `lock:`"),
    }
    for name, (keys, _) in files.items():
        (directory / name).write_text(f"description: d\ncommand: 'true'\n{keys}")
    before = recorded(server)
    try:
        listed = mycli(server, workdir, "playbooks", "list")
        ran = {name: mycli(server, workdir, "run", name.removesuffix(".yml")) for name in files}
    finally:
        for name in files:
            (directory / name).unlink()

    # Then list names each but waits (run --lock can give it a lock), run says each at its line
    assert listed.returncode == 2
    for name, (_, said) in files.items():
        assert (name == "waits.yml") != (said in listed.stderr), listed.stderr
        assert ran[name].returncode == 2 and said in ran[name].stderr, ran[name].stderr
    assert "waits" in listed.stdout
    assert recorded(server) == before


def test_a_param_name_with_a_newline_is_shown_escaped(
    server: LocalDeployment, workdir: Path
) -> None:
    bad = workdir.parents[1] / ".mycli" / "playbooks" / "nl.yml"
    bad.write_text('description: d\ncommand: "true"\nparams:\n  "a\\nb": {description: d}\n')
    try:
        result = mycli(server, workdir, "run", "nl")
    finally:
        bad.unlink()

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "nl.yml:4: params.a\\nb" in result.stderr, result.stderr


# -- params never become shell (issue 17) ------------------------------------------------------

# The four injections of the hostile review: a reference in a comment (a newline in the value
# ends the comment), behind a backslash, the same inside double quotes, and after `$(true)#"`
# (a `#` in the middle of a word is no comment, so the value sat inside double quotes).
INJECTIONS = {
    "comment": ("echo start # {{ params.v }}", "x\ntouch {canary} #", "start\n"),
    "backslash": ("echo \\{{ params.v }}", ";touch {canary};#", None),
    "backslash-in-quotes": ('echo "\\{{ params.v }}"', "$(touch {canary})", None),
    "after-hash-quote": ('echo $(true)#"{{ params.v }}"', "$(touch {canary})", "#{payload}\n"),
}


@pytest.mark.parametrize("case", INJECTIONS)
def test_a_param_value_never_runs_as_a_command(
    server: LocalDeployment, workdir: Path, tmp_path: Path, case: str
) -> None:
    # Given a playbook whose command references a param in a context a scanner could misread
    command, payload, printed = INJECTIONS[case]
    canary = tmp_path / "canary"
    payload = payload.format(canary=canary)
    playbook = workdir.parents[1] / ".mycli" / "playbooks" / f"inject-{case}.yml"
    playbook.write_text(
        f"description: {case}\ncommand: {json.dumps(command)}\n"
        "params:\n  v: {description: a value}\n"
    )
    before = recorded(server)
    try:
        # When it runs with a value that would be a command if it were read as shell
        result = mycli(server, workdir, "run", f"inject-{case}", "--param", f"v={payload}")
    finally:
        playbook.unlink()

    # Then nothing of the value ran: it is printed as text, or, behind a backslash where
    # the shell would not expand it, the playbook is refused before anything starts
    assert not canary.exists(), (result.returncode, result.stdout, result.stderr)
    if printed is None:
        assert result.returncode == 2
        assert "command: {{ params.v }} follows a backslash" in result.stderr
        assert recorded(server) == before
    else:
        expected = printed.format(payload=payload)
        assert (result.returncode, result.stdout) == (0, expected), result.stderr


def test_a_hostile_value_reaches_the_command_exactly(
    server: LocalDeployment, workdir: Path, tmp_path: Path
) -> None:
    # Given a value with newlines, quotes, backslashes, a comment, substitutions, globs and
    # control characters, used in a string command inside and outside quotes, and in a list
    value = "a  *\n'\"\\ # $(touch {c}) `touch {c}`; ${{HOME}} \x01\x1b[1m é".format(
        c=tmp_path / "canary"
    )
    directory = workdir.parents[1] / ".mycli" / "playbooks"
    (directory / "exact.yml").write_text(
        "description: exact\n"
        'command: printf "%s|" {{ params.v }} "<{{ params.v }}>" --x={{ params.v }}\n'
        "params:\n  v: {description: a value}\n"
    )
    (directory / "exact-list.yml").write_text(
        'description: exact\ncommand: [printf, "%s|", "{{ params.v }}", "--x={{ params.v }}"]\n'
        "params:\n  v: {description: a value}\n"
    )
    try:
        string = mycli(server, workdir, "run", "exact", "--param", f"v={value}")
        listed = mycli(server, workdir, "run", "exact-list", "--param", f"v={value}")
    finally:
        (directory / "exact.yml").unlink()
        (directory / "exact-list.yml").unlink()

    assert (string.returncode, string.stdout) == (
        0,
        f"{value}|<{value}>|--x={value}|",
    ), string.stderr
    assert (listed.returncode, listed.stdout) == (0, f"{value}|--x={value}|"), listed.stderr
    assert not (tmp_path / "canary").exists()
