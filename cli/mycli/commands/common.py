"""Helpers shared by the subcommands."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from mycli.config import default_data_dir
from mycli.main import AppContext
from mycli.output import ago, duration, with_relative

pass_app = click.make_pass_decorator(AppContext)
FC = TypeVar("FC", bound=Callable[..., Any] | click.Command)


def data_dir_option(help_text: str) -> Callable[[FC], FC]:
    """`--data-dir`: the embedded platform's data directory (local up/down/status, backup,
    migrate)."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=default_data_dir,
        show_default="$MYCLI_DATA_DIR or $XDG_DATA_HOME/mycli",
        help=help_text,
    )


EXECUTION_COLUMNS = (
    ("EXECUTION", "execution_id"),
    ("STATUS", "status"),
    ("EXIT", "exit_code"),
    ("USER", "user_email"),
    ("STARTED", "started_ago"),
    ("DURATION", "duration"),
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
    "queue_position",
    "queue_holder",
    "lock_wait_until",
    "dequeued_at",
    "env_names",
    "secret_names",
    "timeout_seconds",
    "started_at",
    "finished_at",
    "duration",
    "cancelled_by",
    "lock_released_by",
    "task_ref",
    "playbook",
    "image",
    "image_uri",
    "cpu",
    "memory",
    "git_url",
    "git_ref",
    "git_subdir",
    "git_commit",
    "git_secret",
)


def for_table(executions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Executions with the table's derived columns: start time relative to now, duration
    (to now while it runs). JSON output keeps the ISO timestamps instead."""
    now = datetime.now(UTC)
    return [
        {
            **execution,
            "started_ago": ago(execution.get("started_at"), now),
            "duration": duration(execution.get("started_at"), execution.get("finished_at"), now),
        }
        for execution in executions
    ]


def for_fields(execution: dict[str, Any]) -> dict[str, Any]:
    """One execution for `mycli status`: its times with how long ago, and its duration."""
    now = datetime.now(UTC)
    return {
        **execution,
        "started_at": with_relative(execution.get("started_at"), now),
        "finished_at": with_relative(execution.get("finished_at"), now),
        "duration": duration(execution.get("started_at"), execution.get("finished_at"), now),
        "lock_wait_until": with_relative(execution.get("lock_wait_until"), now),
        "dequeued_at": with_relative(execution.get("dequeued_at"), now),
        **queue_fields(execution.get("queue"), now),
    }


def queue_fields(queue: Any, now: datetime) -> dict[str, str]:
    """A QUEUED run's place and whom it waits for, as `mycli exec --wait-lock` says them."""
    if not isinstance(queue, dict):
        return {}
    from mycli.lock_wait import describe_holder, ordinal

    position = queue.get("position")
    return {
        "queue_position": ordinal(position) if isinstance(position, int) else "?",
        "queue_holder": describe_holder(queue.get("holder"), now),
    }
