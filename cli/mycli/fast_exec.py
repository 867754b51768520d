"""The plain `mycli exec` without click (~70 ms of imports, most of issue 20's 100 ms budget
for `mycli exec -- true`): `--lock`, `--env`/`-e` and `--profile`/`-p` before `--` and the
command. Anything else (another option, `--help`, a
command without `--` that holds a dash-word, input the checks refuse) returns without a side
effect, and click parses the same arguments as before, so its messages and exit codes stay
the only ones. tests/cli/test_fast_start.py holds the two parsers to the same reading."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable

SEPARATOR = "--"
VALUED = {"--lock": "lock", "--env": "env", "-e": "env", "--profile": "profile", "-p": "profile"}


class PlainExec:
    """What a plain `mycli exec` asks for (a plain class: `dataclasses` imports `inspect`)."""

    def __init__(
        self,
        command: tuple[str, ...],
        lock: str | None = None,
        env_pairs: list[str] | None = None,
        profile: str | None = None,
    ) -> None:
        self.command = command
        self.lock = lock
        self.env_pairs = env_pairs if env_pairs is not None else []
        self.profile = profile

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlainExec) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass

    def __repr__(self) -> str:
        return f"PlainExec({vars(self)!r})"


def parse_plain(args: list[str]) -> PlainExec | None:
    """The request, or None when the arguments are not a plain exec's."""
    found = PlainExec(())
    index = 0
    while index < len(args):
        token = args[index]
        if token == SEPARATOR:
            command = tuple(args[index + 1 :])
            return _with_command(found, command) if command else None
        if not token.startswith("-") or token == "-":
            return None  # a command without `--`: click checks where its options are
        name, equals, value = token.partition("=")
        if not token.startswith("--") and len(token) > 2:  # `-eK=V`, `-pNAME`, `-di`
            name, equals, value = token[:2], "=", token[2:]
        if name not in VALUED:
            return None
        if not equals:
            if index + 1 >= len(args):
                return None
            value = args[index + 1]
            index += 1
        index += 1
        _assign(found, VALUED[name], value)
    return None


def _assign(found: PlainExec, attribute: str, value: str) -> None:
    if attribute == "env":
        found.env_pairs.append(value)
    else:
        setattr(found, attribute, value)


def _with_command(found: PlainExec, command: tuple[str, ...]) -> PlainExec:
    found.command = command
    return found


def run_plain_exec(args: list[str]) -> None:
    """Run a plain `mycli exec ARGS` to its end (this exits), or return for click."""
    plain = parse_plain(args)
    if plain is None:
        return
    from mycli.commands.exec_request import request_body

    try:
        body = request_body(plain.command, plain.lock, tuple(plain.env_pairs), None, None)
    except Exception as refused:
        import click

        if isinstance(refused, click.ClickException):
            return  # click refuses it again, in its own words
        raise
    _guarded(lambda: _execute(plain, body))


def _execute(plain: PlainExec, body: dict[str, object]) -> None:
    from mycli.commands.exec_run import (
        cancel_on_hangup,
        run_to_the_end,
        start,
        warn_if_stdin_is_dropped,
    )
    from mycli.errors import CliError, exec_exit_code
    from mycli.main import AppContext

    app = AppContext(plain.profile)
    warn_if_stdin_is_dropped()
    with cancel_on_hangup():
        try:
            execution = start(app, body)
        except CliError as error:
            error.exit_code = exec_exit_code(error)
            raise
        run_to_the_end(app, execution)


def _guarded(run: Callable[[], None]) -> None:
    """What the click group does around a command: a mycli error as one line and its exit
    code, Ctrl-C as 130, a signal as 128 + its number, a closed stdout as exit 1."""
    from mycli import exitcodes
    from mycli.errors import CliError, Interrupted

    try:
        run()
    except CliError as error:
        from mycli.streams import start_own_line

        start_own_line()
        print(f"mycli: error: {error.message}", file=sys.stderr, flush=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(exitcodes.EXEC_CANCELLED)
    except Interrupted as interrupted:
        sys.exit(exitcodes.for_signal(interrupted.signum))
    except OSError as error:
        if error.errno != errno.EPIPE:
            raise
        sys.stdout = _Quiet()  # type: ignore[assignment,unused-ignore]
        sys.stderr = _Quiet()  # type: ignore[assignment,unused-ignore]
        sys.exit(1)
    sys.exit(0)


class _Quiet:
    """A stream that drops what it gets (click's PacifyFlushWrapper after EPIPE)."""

    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass
