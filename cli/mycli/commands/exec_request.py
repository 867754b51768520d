"""`mycli exec`'s request: the POST /executions body from its options, every input checked
against the server's own rules and limits before anything is packed, uploaded or run (exit 2)."""

from __future__ import annotations

import math
import os
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def request_body(
    command: tuple[str, ...],
    lock: str | None,
    env_pairs: tuple[str, ...],
    timeout: int | None,
    wait_lock: float | None,
) -> dict[str, Any]:
    """The POST /executions body, every input checked before anything runs (exit 2)."""
    # The server's own limits; imported here so `mycli --help` does not pay for them.
    from orchestrator.domain.limits import LOCK_NAME_RULE, MAX_COMMAND_LENGTH, is_valid_lock_name

    text = command[0] if len(command) == 1 else shlex.join(command)
    if not text.strip():
        raise _bad_parameter("the command is empty", param_hint="COMMAND")
    if len(text) > MAX_COMMAND_LENGTH:
        raise _bad_parameter(
            f"the command is {len(text)} characters, over the limit of {MAX_COMMAND_LENGTH}",
            param_hint="COMMAND",
        )
    if lock is not None and not is_valid_lock_name(lock):
        raise _bad_parameter(f"{lock!r}: {LOCK_NAME_RULE}", param_hint="--lock")
    if wait_lock is not None and lock is None:
        raise _usage_error("--wait-lock needs --lock")
    body: dict[str, Any] = {"command": text}
    if lock:
        body["lock"] = lock
    if env_pairs:
        body["env"] = parse_env(env_pairs)
        check_env_limits(body["env"])
    if timeout:
        body["timeout_seconds"] = timeout
    if wait_lock:  # 0: do not wait (refused at once, as without --wait-lock)
        body["wait_lock_seconds"] = math.ceil(wait_lock)
    return body


def git_fields(
    source: str | None, subdir: str | None, secret: str | None, upload: Path | None
) -> dict[str, str]:
    """The body's git_* fields for `--git URL[#REF]` and its options, checked by the
    server's own rules (exit 2); the URL as the server stores it (its scheme in lower case)."""
    from mycli.git_paths import repository_url
    from orchestrator.domain.errors import ValidationFailed
    from orchestrator.domain.git_sources import checked_source, split_source

    if source is None:
        if subdir is not None or secret is not None:
            raise _usage_error("--git-subdir and --git-secret go with --git")
        return {}
    if upload is not None:
        raise _usage_error("--git and --upload cannot be used together")
    url, ref = split_source(source)
    url = repository_url(url, secret)
    try:
        checked = checked_source(url, ref, subdir, secret)
    except ValidationFailed as refused:
        field = str(refused.details.get("field", "git_url"))
        raise _bad_parameter(refused.message, param_hint=GIT_OPTIONS[field]) from None
    assert checked is not None
    values = {
        "git_url": checked.url,
        "git_ref": checked.ref,
        "git_subdir": checked.subdir,
        "git_secret": checked.secret,
    }
    return {name: value for name, value in values.items() if value is not None}


# The request field a git rule refuses -> the option of `mycli exec` that gave it.
GIT_OPTIONS = {
    "git_url": "--git",
    "git_ref": "--git",
    "git_subdir": "--git-subdir",
    "git_secret": "--git-secret",
}


def parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not ENV_NAME.match(name):
            raise _bad_parameter(f"invalid variable name {name!r}", param_hint="--env")
        if not separator:
            if name not in os.environ:
                raise _bad_parameter(f"{name} is not set locally", param_hint="--env")
            value = os.environ[name]
        env[name] = value
    return env


def check_env_limits(env: dict[str, str]) -> None:
    """The server's env limits, checked before anything is packed or uploaded (exit 2)."""
    from orchestrator.domain.limits import (
        MAX_ENV_ENTRIES,
        MAX_ENV_TOTAL_BYTES,
        MAX_ENV_VALUE_LENGTH,
        env_size,
    )

    for name, value in env.items():
        if len(value) > MAX_ENV_VALUE_LENGTH:
            raise _bad_parameter(
                f"the value of {name} is {len(value)} characters, over the limit of "
                f"{MAX_ENV_VALUE_LENGTH}",
                param_hint="--env",
            )
    if len(env) > MAX_ENV_ENTRIES:
        raise _bad_parameter(
            f"{len(env)} variables, over the limit of {MAX_ENV_ENTRIES}", param_hint="--env"
        )
    if env_size(env) > MAX_ENV_TOTAL_BYTES:
        raise _bad_parameter(
            f"names and values take {env_size(env)} bytes, over the limit of {MAX_ENV_TOTAL_BYTES}",
            param_hint="--env",
        )


def check_secret_count(secrets: dict[str, str]) -> None:
    from orchestrator.domain.secrets import secret_count_problem

    problem = secret_count_problem(len(secrets))
    if problem is not None:
        raise _bad_parameter(problem, param_hint="--secret")


def _bad_parameter(message: str, param_hint: str) -> click.BadParameter:
    """click's refusal of one option (exit 2); click is imported only to refuse, so a plain
    `mycli exec` can check its request without it."""
    import click

    return click.BadParameter(message, param_hint=param_hint)


def _usage_error(message: str) -> click.UsageError:
    import click

    return click.UsageError(message)
