"""Where `mycli exec`'s command begins and which of exec's own options sit inside it,
read with the option names of the real `exec` command."""

from __future__ import annotations

import pytest

from mycli.commands.exec_args import OptionNames, both_readings, command_start, misplaced_options
from mycli.commands.exec_command import exec_command

NAMES = OptionNames.of(exec_command)


def test_the_names_come_from_the_parser() -> None:
    assert {"--lock", "-e", "--env", "--timeout", "--wait-lock", "--image", "--secret"} <= (
        NAMES.valued
    )
    assert {"--git", "--git-subdir", "--git-secret", "-o", "--output"} <= NAMES.valued
    assert {"-d", "--detach", "-i", "--stdin"} <= NAMES.flags
    assert "--help" not in NAMES.flags | NAMES.valued


@pytest.mark.parametrize(
    ("args", "start", "separated"),
    [
        (["echo", "hi"], 0, False),
        (["--", "echo"], 1, True),
        (["--lock", "x", "echo"], 2, False),
        (["--lock=x", "-d", "--", "echo"], 3, True),
        (["-e", "-e", "--", "echo"], 3, True),  # -e's value is "-e"
        (["--lock", "--", "echo"], 2, False),  # "--" is --lock's value
        (["-eK=V", "-di", "echo"], 2, False),
        (["-die", "K=V", "echo"], 2, False),
    ],
)
def test_the_command_starts_after_exec_options_and_a_separator(
    args: list[str], start: int, separated: bool
) -> None:
    assert command_start(args, NAMES) == (start, separated)


@pytest.mark.parametrize(
    ("command", "found"),
    [
        (["echo", "--lock", "x"], [["--lock", "x"]]),
        (["terraform", "apply", "--lock", "prod", "-auto-approve"], [["--lock", "prod"]]),
        (["echo", "--lock=x", "-eK=V", "-d"], [["--lock=x"], ["-eK=V"], ["-d"]]),
        (["echo", "-di"], [["-di"]]),
        (["echo", "hello", "--lock"], [["--lock"]]),
        (["echo", "--timeout", "5m", "--detach"], [["--timeout", "5m"], ["--detach"]]),
        (["--lock", "x"], []),  # a program named --lock: the program itself is not an option
        (["ls", "-la"], []),
        (["docker", "run", "-it", "x"], []),  # -i is exec's but -t is not: not exec's reading
        (["terraform", "apply", "-auto-approve"], []),
        (["echo", "--", "--lock", "x"], []),  # the command's own `--`
        (["echo", "-", "--locks", "--detach=1"], []),
    ],
)
def test_exec_options_inside_a_command_are_found_with_their_values(
    command: list[str], found: list[list[str]]
) -> None:
    assert [command[where] for where in misplaced_options(command, NAMES)] == found


def test_the_refusal_shows_both_readings_quoted_to_paste() -> None:
    command = ["sh", "-c", "echo $X", "-e", "X=a b", "-d"]

    message = both_readings("mycli exec", ["--lock", "db"], command, [slice(3, 5), slice(5, 6)])

    assert message == (
        "`-e 'X=a b'` and `-d` come after the command: to give them to mycli, put them before "
        "the command (`mycli exec --lock db -e 'X=a b' -d sh -c 'echo $X'`); to give them to "
        "the command, put `--` first (`mycli exec --lock db -- sh -c 'echo $X' -e 'X=a b' -d`)"
    )
