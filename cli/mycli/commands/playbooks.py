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
from mycli.commands.exec_command import EXEC_EPILOG, exec_options, execute
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
from mycli.playbooks.render import Rendered, param_values, render

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
        emit_table(
            [
                {
                    "name": param_name,
                    "default": param.get("default"),
                    "allowed": param.get("choices") or param.get("pattern"),
                    "description": param["description"],
                }
                for param_name, param in params.items()
            ],
            [
                ("PARAM", "name"),
                ("DEFAULT", "default"),
                ("ALLOWED", "allowed"),
                ("DESCRIPTION", "description"),
            ],
        )


@click.command("run", epilog=EXEC_EPILOG)
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
    """
    loaded = load(find_playbook(name, Path.cwd()))
    values = param_values(loaded, param_pairs)
    rendered = render(loaded, values, with_lock=options["lock"] is None)
    apply_file_options(loaded, rendered, options)
    execute(app, command=(rendered.command,), playbook=loaded.name, **options)


def apply_file_options(loaded: LoadedPlaybook, rendered: Rendered, options: dict[str, Any]) -> None:
    """Set `options` (exec's, as parsed from the command line) from the playbook's keys
    where the command line left them unset; each value is checked as exec checks it."""
    ctx = click.get_current_context()
    declared = {param.name: param for param in ctx.command.params}
    source_given = any(options.get(option) for option in SOURCE_OPTIONS)
    for key in file_keys(loaded, rendered):
        where = loaded.where((key,))
        option = EXEC_OPTION_OF_KEY[key]
        param = declared.get(option)
        if param is None:
            raise PlaybookError(
                where, f"`{key}` is not supported yet: this mycli's exec has no option for it"
            )
        if (not param.multiple and options[option] is not None) or (
            key in SOURCE_KEYS and source_given
        ):
            continue  # the command line's value replaces the file's
        try:
            value = param.type_cast_value(ctx, file_value(loaded, rendered, key))
        except click.BadParameter as error:
            raise PlaybookError(where, f"{key}: {error.format_message()}") from None
        options[option] = (*value, *options[option]) if param.multiple else value


def file_keys(loaded: LoadedPlaybook, rendered: Rendered) -> list[str]:
    """The keys of exec's options that the playbook sets."""
    playbook = loaded.playbook
    keys = [key for key in EXEC_OPTION_OF_KEY if getattr(playbook, key) not in (None, [], {})]
    return [key for key in keys if key != "lock" or rendered.lock is not None]


def file_value(loaded: LoadedPlaybook, rendered: Rendered, key: str) -> Any:
    """The playbook's value for `key` as exec's option takes it, with params in place: env
    as NAME=VALUE pairs, upload as a directory inside the repository."""
    if key == "lock":
        return rendered.lock
    if key == "env":
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
