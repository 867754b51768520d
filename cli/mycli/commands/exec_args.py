"""`mycli exec`'s own options after the command without `--` are refused (exit 2), never
passed on silently: `mycli exec terraform apply --lock prod` must not run unlocked while
its user believes the lock is held. Options that are not exec's pass through as before."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

import click

SEPARATOR = "--"


@dataclass(frozen=True)
class OptionNames:
    """The option names a command's parser knows, as click reads them."""

    flags: frozenset[str]  # take no value: `-d`, `--detach`
    valued: frozenset[str]  # take the next argument, `--lock=NAME` or `-eK=V`

    @classmethod
    def of(cls, command: click.Command) -> OptionNames:
        flags: set[str] = set()
        valued: set[str] = set()
        for param in command.params:
            if isinstance(param, click.Option):
                names = (*param.opts, *param.secondary_opts)
                (flags if param.is_flag or param.count else valued).update(names)
        return cls(frozenset(flags), frozenset(valued))

    def width(self, args: Sequence[str], index: int) -> int | None:
        """How many arguments from `index` click would read as one of these options (with
        its value), or None if `args[index]` would not be read as one."""
        token = args[index]
        if token.startswith("--"):
            name, equals, _ = token.partition("=")
            if name in self.valued:
                return 1 if equals else 2
            return 1 if name in self.flags and not equals else None
        if len(token) < 2 or not token.startswith("-"):
            return None
        for position, letter in enumerate(token[1:], start=2):  # a cluster such as `-di`
            if f"-{letter}" in self.valued:
                return 1 if position < len(token) else 2  # `-eK=V` or `-e K=V`
            if f"-{letter}" not in self.flags:
                return None
        return 1


def command_start(args: Sequence[str], names: OptionNames) -> tuple[int, bool]:
    """Where the command begins among exec's arguments, and whether `--` comes before it."""
    index = 0
    while index < len(args):
        if args[index] == SEPARATOR:
            return index + 1, True
        width = names.width(args, index)
        if width is None:
            break
        index += width
    return index, False


def misplaced_options(command: Sequence[str], names: OptionNames) -> list[slice]:
    """Where exec's own options (each with its value) sit in a command given without `--`
    (up to a `--` of the command's own, after which nothing can be exec's)."""
    found: list[slice] = []
    index = 1  # the program itself is never an option: the command starts there
    while index < len(command) and command[index] != SEPARATOR:
        width = names.width(command, index)
        if width is None:
            index += 1
            continue
        found.append(slice(index, index + width))
        index += width
    return found


def both_readings(path: str, before: list[str], command: list[str], found: list[slice]) -> str:
    """The refusal: which options, and the two command lines the user may have meant."""
    moved = [token for where in found for token in command[where]]
    kept = [
        token
        for index, token in enumerate(command)
        if not any(where.start <= index < where.stop for where in found)
    ]
    shown = " and ".join(f"`{shlex.join(command[where])}`" for where in found)
    verb, it = ("comes", "it") if len(found) == 1 else ("come", "them")
    for_mycli = shlex.join([*before, *moved, *kept])
    for_command = shlex.join([*before, SEPARATOR, *command])
    return (
        f"{shown} {verb} after the command: to give {it} to mycli, put {it} before the "
        f"command (`{path} {for_mycli}`); to give {it} to the command, put `--` first "
        f"(`{path} {for_command}`)"
    )


class ExecCommand(click.Command):
    """A command whose options go before its COMMAND, or COMMAND after `--`: one of its
    own options after COMMAND without `--` is refused with both readings (exit 2)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # click consumes the list it parses
        rest = super().parse_args(ctx, args)
        if ctx.resilient_parsing:  # shell completion
            return rest
        names = OptionNames.of(self)
        start, separated = command_start(given, names)
        found = [] if separated else misplaced_options(given[start:], names)
        if found:
            message = both_readings(f"mycli {ctx.info_name}", given[:start], given[start:], found)
            raise click.UsageError(message, ctx)
        return rest
