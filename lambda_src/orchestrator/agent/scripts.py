"""The shell programs of a run, kept as files: the checkout step (run by the embedded
runner and by the agent) and the command container's entry (which the task definition
runs as `sh -c <its text>`). Read them here, so no copy of either lives in a string."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent

CHECKOUT_SCRIPT_PATH = _HERE / "checkout.sh"
COMMAND_ENTRY_SCRIPT_PATH = _HERE / "command_entry.sh"


def checkout_script() -> str:
    """The checkout program's text, for `sh -c`."""
    return CHECKOUT_SCRIPT_PATH.read_text()


def command_entry_script() -> str:
    """The command container's entry program's text, for `sh -c`."""
    return COMMAND_ENTRY_SCRIPT_PATH.read_text()
