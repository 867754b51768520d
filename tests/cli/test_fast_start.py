"""Start-up (issue 20): `mycli --help` and a plain `mycli exec` import neither click nor the
heavy libraries, and say and do exactly what the click commands say and do."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from cli_harness import CliHarness
from mycli.cli_group import cli
from mycli.fast_exec import PlainExec, parse_plain
from mycli.main import AppContext

MYCLI = str(Path(sys.executable).parent / "mycli")
# Never on the hot paths: click (~70 ms), the playbooks' pydantic and YAML (~200 ms), httpx
# (~85 ms), dataclasses (its `inspect`, ~6 ms), the domain's models and the server.
HEAVY = (
    "click",
    "pydantic",
    "yaml",
    "httpx",
    "dataclasses",
    "mycli.playbooks",
    "mycli.commands.exec_command",
)
HEAVY_ORCHESTRATOR = ("orchestrator.domain.models", "orchestrator.api", "orchestrator.local")


def imported_modules(args: list[str], env: dict[str, str]) -> tuple[set[str], int]:
    """The modules `mycli ARGS` imports (python -X importtime), and its exit status."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mycli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}, result.returncode


def heavy_among(modules: set[str]) -> set[str]:
    return {
        name
        for name in modules
        for heavy in (*HEAVY, *HEAVY_ORCHESTRATOR)
        if name == heavy or name.startswith(heavy + ".")
    }


def test_help_imports_nothing_heavy() -> None:
    modules, status = imported_modules(["--help"], {})

    assert status == 0
    assert heavy_among(modules) == set()
    assert not {name for name in modules if name.startswith("orchestrator")}


def test_a_plain_exec_imports_nothing_heavy(harness: CliHarness) -> None:
    env = {"MYCLI_API_URL": harness.url, "MYCLI_API_KEY": harness.user_key, "MYCLI_PROFILE": ""}
    env["XDG_CONFIG_HOME"] = str(harness.config_home)

    modules, status = imported_modules(["exec", "--lock", "fast", "-e", "A=1", "--", "true"], env)

    assert status == 0
    assert heavy_among(modules) == set()


def test_an_exec_the_fast_path_does_not_take_goes_to_click() -> None:
    modules, status = imported_modules(["exec", "--help"], {})

    assert status == 0
    assert "click" in modules


@pytest.mark.parametrize("columns", ["80", "60", "40", "200"])
def test_the_help_page_is_the_one_click_prints(columns: str) -> None:
    env = {**os.environ, "COLUMNS": columns}

    fast = subprocess.run([MYCLI, "--help"], env=env, capture_output=True, check=True)
    through_click = subprocess.run(
        [MYCLI, "--profile", "x", "--help"], env=env, capture_output=True, check=True
    )

    assert fast.stdout == through_click.stdout
    assert fast.stdout.startswith(b"Usage: mycli [OPTIONS] COMMAND [ARGS]...\n")


def test_each_listed_help_is_the_commands_own() -> None:
    ctx = click.Context(cli, info_name="mycli")
    for name, (module, attribute, text) in cli._lazy.items():  # type: ignore[attr-defined]
        command = getattr(importlib.import_module(module), attribute)

        assert text == command.get_short_help_str(10**6), name
        assert cli.get_command(ctx, name) is command


PLAIN = [
    ["--", "true"],
    ["--", "echo", "--lock", "x"],
    ["--lock", "prod", "--", "terraform", "apply"],
    ["--lock=prod", "--", "x"],
    ["-e", "A=1", "--env", "B=2", "-eC=3", "--env=D=4", "--", "env"],
    ["-e", "-e", "--", "echo"],
    ["--profile", "twin", "-p", "other", "--", "x"],
    ["-pme", "--", "x"],
    ["--lock", "a", "--lock", "b", "--", "x"],
]
NOT_PLAIN = [
    ["echo", "hi"],
    ["--lock", "x", "echo"],
    ["--lock", "--", "echo"],
    ["--timeout", "5", "--", "x"],
    ["-di", "--", "x"],
    ["-i", "--", "cat"],
    ["--help"],
    ["--lock"],
    ["--"],
    ["--detach=yes", "--", "x"],
    ["-d", "--", "x"],
    ["--image", "py", "--", "python", "-V"],
    ["-o", "json", "-d", "--", "x"],
    ["--secret", "TOKEN", "--", "x"],
]


@pytest.mark.parametrize("args", PLAIN)
def test_a_plain_exec_reads_as_click_reads_it(args: list[str]) -> None:
    plain = parse_plain(list(args))
    parent = click.Context(cli, info_name="mycli", obj=AppContext(None))
    command = cli.get_command(parent, "exec")
    assert command is not None and plain is not None

    params = command.make_context("exec", list(args), parent=parent).params

    assert plain == PlainExec(
        command=params["command"],
        lock=params["lock"],
        env_pairs=list(params["env_pairs"]),
        profile=parent.obj.profile_name,
    )
    defaults = {"timeout": None, "wait_lock": None, "upload": None, "forward_stdin": False}
    defaults |= {"image": None, "detach": False}
    assert {name: params[name] for name in defaults} == defaults
    assert params["output"] == "table" and params["secret_refs"] == ()
    assert params["git_source"] is None and params["cpu"] is None


@pytest.mark.parametrize("args", NOT_PLAIN)
def test_other_exec_arguments_are_left_to_click(args: list[str]) -> None:
    assert parse_plain(list(args)) is None


def test_refused_input_is_reported_by_click(harness: CliHarness) -> None:
    env = {**os.environ, "MYCLI_API_URL": harness.url, "MYCLI_API_KEY": harness.user_key}

    result = subprocess.run(
        [MYCLI, "exec", "--lock", "bad lock", "--", "true"],
        env=env,
        capture_output=True,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.startswith(b"Usage: mycli exec [OPTIONS] COMMAND...\n")
    assert b"Invalid value for --lock: 'bad lock'" in result.stderr
    assert harness.platform.executions_store.list_active() == []
