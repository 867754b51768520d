"""`mycli playbooks list|show` and `mycli run NAME`: a playbook run the way `mycli exec`
runs a command (the same code: `execute`), with the file's keys as exec's options."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from mycli import exitcodes
from mycli.commands.common import pass_app
from mycli.commands.exec_command import EXEC_EPILOG, exec_options, execute, parse_env
from mycli.commands.playbook_help import RunCommand, param_table
from mycli.main import AppContext
from mycli.output import emit_json, emit_table, output_option
from mycli.playbooks.loader import (
    PLAYBOOKS_DIR,
    LoadedPlaybook,
    PlaybookError,
    find_playbook,
    find_root,
    iter_loaded,
    load,
    playbook_files,
    shown,
)
from mycli.playbooks.model import PARAM_VARIABLE_PREFIX
from mycli.playbooks.render import Rendered, check_env_size, param_values, render
from orchestrator.domain.secrets import secret_reference

# A playbook key -> the parameter of `mycli exec` it sets (its name in `execute`). A value
# from the command line wins over the file's; for repeatable options the file's come first.
# A key whose option this mycli's `exec` lacks is refused, not ignored.
EXEC_OPTION_OF_KEY: dict[str, str] = {
    "lock": "lock",
    "timeout": "timeout",
    "wait_lock": "wait_lock",
    "env": "env_pairs",
    "upload": "upload",
    "secrets": "secret_refs",
    "image": "image",
    "cpu": "cpu",
    "memory": "memory",
    "git": "git_source",
    "git_subdir": "git_subdir",
    "git_secret": "git_secret",
}
# Keys whose values take params: checked when the playbook runs, with its values.
RENDERED_KEYS = ("lock", "env")
# Where the code comes from: a source on the command line replaces the file's whole source.
SOURCE_OPTIONS = ("upload", "git_source")
SOURCE_KEYS = ("upload", "git", "git_subdir", "git_secret")


def complete_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of NAME: the playbook files found from here (none read)."""
    root = find_root(Path.cwd())
    if root is None:
        return []
    try:
        names = [file.name for file in playbook_files(root)]
    except PlaybookError:
        return []
    return [name for name in names if name.startswith(incomplete)]


@click.group("playbooks")
def playbooks() -> None:
    """The team's tasks in .mycli/playbooks/ (here or in a parent directory).

    Each NAME.yml file holds a description, a command and the options `mycli exec` would
    take; `mycli run NAME` runs it. Schema: docs/playbook.schema.json.
    """


@playbooks.command("list")
@output_option
def list_playbooks(output: str) -> None:
    """Name, description and file of every playbook (exit 2 if one is invalid)."""
    root = find_root(Path.cwd())
    if root is None:
        click.echo(f"no {PLAYBOOKS_DIR}/ here or in a parent directory", err=True)
        if output == "json":
            emit_json([])
        return
    rows: list[dict[str, Any]] = []
    invalid = []
    for loaded in iter_loaded(root):
        if isinstance(loaded, PlaybookError):
            invalid.append(loaded)
            continue
        try:
            check_file_options(loaded)
        except PlaybookError as refused:
            invalid.append(refused)
            continue
        rows.append(
            {
                "name": loaded.name,
                "description": loaded.playbook.description,
                "file": shown(loaded.path),
                "params": list(loaded.playbook.params),
            }
        )
    if output == "json":
        emit_json(rows)
    else:
        emit_table(
            rows,
            [("NAME", "name"), ("DESCRIPTION", "description"), ("FILE", "file")],
            empty=f"no playbooks in {shown(root / PLAYBOOKS_DIR)}",
        )
    for error in invalid:
        click.echo(f"mycli: error: {error.message}", err=True)
    if invalid:
        sys.exit(exitcodes.USAGE)


@playbooks.command("show")
@click.argument("name", shell_complete=complete_names)
@output_option
def show_playbook(name: str, output: str) -> None:
    """One playbook: its keys as the file sets them, and its params."""
    loaded = load(find_playbook(name, Path.cwd()))
    check_file_options(loaded)
    data = {
        "name": loaded.name,
        "file": shown(loaded.path),
        **loaded.playbook.model_dump(exclude_defaults=True),
    }
    if output == "json":
        emit_json(data)
        return
    params = data.pop("params", {})
    width = max(len(key) for key in data)
    for key, value in data.items():
        shown_value = value if isinstance(value, str) else json.dumps(value)
        click.echo(f"{key.ljust(width)}  {shown_value}")
    if params:
        click.echo()
        for line in param_table(loaded.playbook.params):
            click.echo(line)


@click.command("run", cls=RunCommand, epilog=EXEC_EPILOG)
@click.argument("name", shell_complete=complete_names)
@click.option(
    "--param",
    "param_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A value for one of the playbook's params (repeatable).",
)
@exec_options
@pass_app
def run(app: AppContext, /, name: str, param_pairs: tuple[str, ...], **options: Any) -> None:
    """Run the playbook NAME as `mycli exec` would run its command.

    Options given here win over the file's keys (`--env` adds to its env). Any problem
    with the file or a --param is refused before anything runs (exit 2, FILE:LINE).
    `mycli run NAME --help` shows NAME's params.
    """
    loaded = load(find_playbook(name, Path.cwd()))
    refuse_param_variables(options)
    values = param_values(loaded, param_pairs)
    rendered = render(loaded, values, with_lock=options["lock"] is None)
    wait_lock_from_file = options["wait_lock"] is None
    apply_file_options(loaded, rendered, options)
    if wait_lock_from_file and options["wait_lock"] is not None and options["lock"] is None:
        # A file's wait_lock may wait for a lock the command line gives (`list` takes it).
        raise PlaybookError(
            loaded.where(("wait_lock",)), "wait_lock needs a lock: add `lock:` or pass --lock"
        )
    # The params travel as env values (never stored; sealed on AWS), next to the file's and
    # the command line's entries, whose names cannot be theirs.
    pairs = [f"{variable}={value}" for variable, value in rendered.variables.items()]
    options["env_pairs"] = (*pairs, *options["env_pairs"])
    check_env_size(loaded, parse_env(options["env_pairs"]))
    if values:
        shown_values = ", ".join(f"{param}={value!r}" for param, value in values.items())
        click.echo(f"mycli: playbook {loaded.name}: {shown_values}", err=True)
    execute(app, command=(rendered.command,), playbook=loaded.name, **options)


def refuse_param_variables(options: dict[str, Any]) -> None:
    """`-e` and `--secret` variables may not take a name of the params' (MYCLI_PARAM_...)."""
    for option, hint in (("env_pairs", "--env"), ("secret_refs", "--secret")):
        for entry in options[option]:
            variable = secret_reference(entry)[0] if option == "secret_refs" else entry
            variable = variable.partition("=")[0]
            if variable.startswith(PARAM_VARIABLE_PREFIX):
                raise click.BadParameter(
                    f"{variable}: names starting with {PARAM_VARIABLE_PREFIX} carry the "
                    "playbook's params",
                    param_hint=hint,
                )


def apply_file_options(loaded: LoadedPlaybook, rendered: Rendered, options: dict[str, Any]) -> None:
    """Set `options` (exec's, as parsed from the command line) from the playbook's keys
    where the command line left them unset; each value is checked as exec checks it, also
    where the command line replaces it (`list` refuses the same file)."""
    ctx = click.get_current_context()
    source_given = any(options.get(option) for option in SOURCE_OPTIONS)
    for key in file_keys(loaded, rendered):
        param, value = file_option(ctx, loaded, key, file_value(loaded, rendered, key))
        option = str(param.name)
        if (not param.multiple and options[option] is not None) or (
            key in SOURCE_KEYS and source_given
        ):
            continue  # the command line's value replaces the file's
        options[option] = (*value, *options[option]) if param.multiple else value


def check_file_options(loaded: LoadedPlaybook) -> None:
    """What `run` refuses in the file whatever its params: a key exec lacks, a value exec's
    option refuses, an upload leading out of the repository (for `list` and `show`)."""
    ctx = click.Context(run)
    for key in file_keys(loaded, None):
        if key not in RENDERED_KEYS:
            file_option(ctx, loaded, key, file_value(loaded, None, key))


def file_option(
    ctx: click.Context, loaded: LoadedPlaybook, key: str, value: Any
) -> tuple[click.Parameter, Any]:
    """Exec's option for the file's `key` and `value` as that option takes it (exit 2 at
    the key's line if it has none or refuses the value)."""
    where = loaded.where((key,))
    declared = {param.name: param for param in ctx.command.params}
    param = declared.get(EXEC_OPTION_OF_KEY[key])
    if param is None:
        raise PlaybookError(
            where, f"`{key}` is not supported yet: this mycli's exec has no option for it"
        )
    try:
        return param, param.type_cast_value(ctx, value)
    except click.BadParameter as error:
        raise PlaybookError(where, f"{key}: {error.format_message()}") from None


def file_keys(loaded: LoadedPlaybook, rendered: Rendered | None) -> list[str]:
    """The keys of exec's options that the playbook sets (the lock only once rendered)."""
    playbook = loaded.playbook
    keys = [key for key in EXEC_OPTION_OF_KEY if getattr(playbook, key) not in (None, [], {})]
    return [key for key in keys if key != "lock" or (rendered and rendered.lock is not None)]


def file_value(loaded: LoadedPlaybook, rendered: Rendered | None, key: str) -> Any:
    """The playbook's value for `key` as exec's option takes it, with params in place: env
    as NAME=VALUE pairs, upload as a directory inside the repository."""
    if key in RENDERED_KEYS:
        assert rendered is not None
        if key == "lock":
            return rendered.lock
        return [f"{name}={value}" for name, value in rendered.env.items()]
    if key == "upload":
        return upload_directory(loaded, str(loaded.playbook.upload))
    return getattr(loaded.playbook, key)


def upload_directory(loaded: LoadedPlaybook, upload: str) -> Path:
    """`upload` as a directory of the repository the playbook belongs to. A path out of it
    (absolute, `..`, a symlink) is refused: a checked-out repository must not be able to
    ship files from elsewhere on the user's disk."""
    root = loaded.root.resolve()
    directory = (root / upload).resolve()
    if Path(upload).is_absolute() or not directory.is_relative_to(root):
        raise PlaybookError(
            loaded.where(("upload",)),
            f"upload {upload!r} leads outside the repository ({shown(root)})",
        )
    if not directory.is_dir():
        raise PlaybookError(
            loaded.where(("upload",)), f"upload {upload!r}: no such directory in {shown(root)}"
        )
    return directory
