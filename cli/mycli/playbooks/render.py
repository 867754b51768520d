"""Params: the values given with --param (or the defaults) checked against the playbook,
then put in place of each {{ params.NAME }} in the command, env values and lock.

Substitution is one pass over the playbook's own text: a value is never read again, so a
value holding "{{ params.other }}" stays that text. In a string command each value is
shell-quoted (`; rm -rf /` arrives as one harmless argument) unless its param says
`quote: false`, which the model allows only with `choices` or `pattern`; the loader has
refused quoted references the shell would read inside quotes (see shell.py). In a list command
each argument is quoted whole after substitution; env values and the lock take values as
they are (the lock is then checked as a lock name)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from mycli.playbooks.loader import LoadedPlaybook, PlaybookError
from mycli.playbooks.model import PARAM_REFERENCE, REFERENCE, Param
from orchestrator.domain.models import TextKind, is_valid_lock_name, text_problem

LOCK_NAME_RULE = "lock names are 1-128 characters of letters, digits and . _ / -"


@dataclass(frozen=True)
class Rendered:
    """The playbook's command, env and lock with every param in place."""

    command: str
    env: dict[str, str]
    lock: str | None


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
        problem = text_problem(value, TextKind.COMMAND)
        if problem is not None:
            raise PlaybookError(loaded.where(("params", name)), f"--param {name}: {problem}")
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
        problem = param.problem_with(value)
        if problem is not None:
            key = (
                "choices" if param.choices is not None and value not in param.choices else "pattern"
            )
            raise PlaybookError(loaded.where(("params", name, key)), f"param {name}: {problem}")
        values[name] = value
    return values


def render(loaded: LoadedPlaybook, values: dict[str, str], with_lock: bool = True) -> Rendered:
    """The command (one shell string), env and lock with `values` substituted; without
    `with_lock` (the command line names another) the file's lock is left out."""
    playbook = loaded.playbook
    params = playbook.params
    if isinstance(playbook.command, str):
        command = _substitute(playbook.command, values, params, shell=True)
    else:
        command = shlex.join(_substitute(arg, values, params) for arg in playbook.command)
    env = {name: _substitute(value, values, params) for name, value in playbook.env.items()}
    lock = None
    if playbook.lock is not None and with_lock:
        lock = _substitute(playbook.lock, values, params)
        if not is_valid_lock_name(lock):
            raise PlaybookError(loaded.where(("lock",)), f"lock {lock!r}: {LOCK_NAME_RULE}")
    return Rendered(command, env, lock)


def _substitute(
    text: str, values: dict[str, str], params: dict[str, Param], shell: bool = False
) -> str:
    def value_of(reference: re.Match[str]) -> str:
        # The loader checked every reference is {{ params.NAME }} with NAME declared.
        matched = PARAM_REFERENCE.fullmatch(reference.group(1))
        assert matched is not None
        name = matched.group(1)
        value = values[name]
        return shlex.quote(value) if shell and params[name].quote else value

    return REFERENCE.sub(value_of, text)
