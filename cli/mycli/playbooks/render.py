"""Params: the values given with --param (or the defaults) checked against the playbook,
then given to the command as data.

Each param travels as an environment variable of the run, MYCLI_PARAM_<NAME>, and each
{{ params.NAME }} of a string command becomes a reference to it that the shell expands
(shell.py); the shell never parses a value, whatever surrounds the reference. In a list
command each argument is quoted whole, its references as "${MYCLI_PARAM_NAME}" pieces. A
`quote: false` param (bounded by `choices` or `pattern`) is pasted as shell syntax. Env
values and the lock take values as they are (the lock is then checked as a lock name).
Substitution is one pass over the playbook's own text: a value is never read again."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from mycli.playbooks.loader import LoadedPlaybook, PlaybookError
from mycli.playbooks.model import (
    PARAM_REFERENCE,
    REFERENCE,
    Param,
    param_variable,
)
from mycli.playbooks.shell import render_command
from orchestrator.domain.models import (
    LOCK_NAME_RULE,
    MAX_COMMAND_LENGTH,
    MAX_ENV_ENTRIES,
    MAX_ENV_TOTAL_BYTES,
    MAX_ENV_VALUE_LENGTH,
    TextKind,
    env_size,
    is_valid_lock_name,
    text_problem,
)


@dataclass(frozen=True)
class Rendered:
    """The playbook's command, env and lock with every param in place, and the params'
    variables (MYCLI_PARAM_<NAME>: value) the command refers to."""

    command: str
    env: dict[str, str]
    lock: str | None
    variables: dict[str, str]


def param_values(loaded: LoadedPlaybook, pairs: Sequence[str]) -> dict[str, str]:
    """Every param's value: from `--param NAME=VALUE` (each NAME once), else its default.
    Unknown names, missing required params and values their param refuses are errors
    naming the playbook's file and line."""
    params = loaded.playbook.params
    given: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator:
            raise PlaybookError(
                loaded.where(("params",)), f"--param {pair!r}: write --param NAME=VALUE"
            )
        if name not in params:
            declared = ", ".join(params) or "no params"
            raise PlaybookError(
                loaded.where(("params",)),
                f"unknown --param {name!r}: the playbook {loaded.name!r} takes {declared}",
            )
        if name in given:
            raise PlaybookError(loaded.where(("params", name)), f"--param {name} given twice")
        given[name] = value
    values: dict[str, str] = {}
    for name, param in params.items():
        chosen = given.get(name, param.default)
        if chosen is None:
            raise PlaybookError(
                loaded.where(("params", name)),
                f"missing param {name!r} ({param.description}): --param {name}=VALUE",
            )
        value = chosen
        _check_value(loaded, name, param, value)
        problem = param.problem_with(value)
        if problem is not None:
            key = (
                "choices" if param.choices is not None and value not in param.choices else "pattern"
            )
            raise PlaybookError(loaded.where(("params", name, key)), f"param {name}: {problem}")
        values[name] = value
    return values


def _check_value(loaded: LoadedPlaybook, name: str, param: Param, value: str) -> None:
    """A value travels as an env value (no NUL, at most MAX_ENV_VALUE_LENGTH characters);
    a `quote: false` one is pasted into the command, so it follows the command's rules."""
    kind = TextKind.VALUE if param.quote else TextKind.COMMAND
    problem = text_problem(value, kind)
    if problem is None and len(value) > MAX_ENV_VALUE_LENGTH:
        problem = f"is {len(value)} characters, over the limit of {MAX_ENV_VALUE_LENGTH}"
    if problem is not None:
        raise PlaybookError(loaded.where(("params", name)), f"param {name}: the value {problem}")


def render(loaded: LoadedPlaybook, values: dict[str, str], with_lock: bool = True) -> Rendered:
    """The command (one shell string), env, lock and param variables for `values`; without
    `with_lock` (the command line names another) the file's lock is left out."""
    playbook = loaded.playbook
    params = playbook.params
    pasted = {name: values[name] for name, param in params.items() if not param.quote}
    if isinstance(playbook.command, str):
        command = render_command(playbook.command, pasted)
    else:
        command = " ".join(_argument(arg, pasted) for arg in playbook.command)
    if len(command) > MAX_COMMAND_LENGTH:
        raise PlaybookError(
            loaded.where(("command",)),
            f"the command is {len(command)} characters once rendered, over the limit of "
            f"{MAX_COMMAND_LENGTH}",
        )
    env = {name: _substitute(value, values) for name, value in playbook.env.items()}
    lock = None
    if playbook.lock is not None and with_lock:
        lock = _substitute(playbook.lock, values)
        if not is_valid_lock_name(lock):
            raise PlaybookError(loaded.where(("lock",)), f"lock {lock!r}: {LOCK_NAME_RULE}")
    variables = {param_variable(name): values[name] for name in params}
    rendered = Rendered(command, env, lock, variables)
    check_env_size(loaded, {**env, **variables})
    return rendered


def check_env_size(loaded: LoadedPlaybook, env: dict[str, str]) -> None:
    """The run's env (the file's, the params' variables and -e's) within the platform's
    limits, refused at the params' line before anything starts."""
    where = loaded.where(("params",) if loaded.playbook.params else ("env",))
    if len(env) > MAX_ENV_ENTRIES:
        raise PlaybookError(
            where,
            f"{len(env)} env variables with one per param, over the limit of {MAX_ENV_ENTRIES}",
        )
    if env_size(env) > MAX_ENV_TOTAL_BYTES:
        raise PlaybookError(
            where,
            f"the env, one variable per param included, takes {env_size(env)} bytes, over the "
            f"limit of {MAX_ENV_TOTAL_BYTES}",
        )


def _argument(argument: str, pasted: dict[str, str]) -> str:
    """One argument of a list command, quoted whole: its text quoted, its references as
    "${VAR}" (a `quote: false` value quoted as text)."""
    pieces: list[str] = []
    at = 0
    for reference in REFERENCE.finditer(argument):
        if reference.start() > at:
            pieces.append(shlex.quote(argument[at : reference.start()]))
        name = _name(reference)
        pieces.append(
            shlex.quote(pasted[name]) if name in pasted else f'"${{{param_variable(name)}}}"'
        )
        at = reference.end()
    if at < len(argument) or not pieces:
        pieces.append(shlex.quote(argument[at:]))
    return "".join(pieces)


def _substitute(text: str, values: dict[str, str]) -> str:
    """`text` with each value as it is (env values and the lock are not shell)."""
    return REFERENCE.sub(lambda reference: values[_name(reference)], text)


def _name(reference: re.Match[str]) -> str:
    # The loader checked every reference is {{ params.NAME }} with NAME declared.
    matched = PARAM_REFERENCE.fullmatch(reference.group(1))
    assert matched is not None
    return matched.group(1)
