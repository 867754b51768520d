"""Helpers shared by the subcommands."""

from __future__ import annotations

import click

from mycli.main import AppContext

pass_app = click.make_pass_decorator(AppContext)

EXECUTION_COLUMNS = (
    ("EXECUTION", "execution_id"),
    ("STATUS", "status"),
    ("EXIT", "exit_code"),
    ("USER", "user_email"),
    ("STARTED", "started_at"),
    ("LOCK", "lock_name"),
    ("COMMAND", "command"),
)
EXECUTION_FIELDS = (
    "execution_id",
    "status",
    "exit_code",
    "reason",
    "user_email",
    "command",
    "lock_name",
    "env_names",
    "timeout_seconds",
    "started_at",
    "finished_at",
    "cancelled_by",
    "lock_released_by",
    "task_ref",
)
