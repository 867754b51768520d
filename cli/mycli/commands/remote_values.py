"""Parameter types for values that live on the server: an execution id, an image name and a
lock name.
Each completes from the API (quickly, and silently nothing when the server cannot say), and
a missing execution id says where to find one."""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

# Completion runs on each Tab: an unreachable server must not hang the shell.
COMPLETION_TIMEOUT_SECONDS = 1.5
RECENT_RUNS = 30


def ask_for_completion(
    ctx: click.Context, path: str, key: str = "items", **query: Any
) -> list[dict[str, Any]]:
    """The `items` (or `key`) of GET `path` with the profile chosen on the command line (or
    MYCLI_PROFILE, or the current one); [] on any failure, which completion never shows."""
    from mycli.client import ApiClient
    from mycli.config import resolve_profile

    try:
        profile = resolve_profile(ctx.find_root().params.get("profile"))
        if not profile.api_url or not profile.api_key:
            return []
        client = ApiClient(
            profile.api_url,
            profile.api_key,
            COMPLETION_TIMEOUT_SECONDS,
            retry_seconds=0,
            notify=lambda _message: None,
        )
        try:
            items = client.get(path, **query)[key]
        finally:
            client.close()
        return [item for item in items if isinstance(item, dict)]
    except Exception:
        return []


class ExecutionId(click.ParamType[str]):
    """An execution id: completes from the recent runs; missing, says how to find one."""

    name = "execution_id"

    def get_missing_message(self, param: click.Parameter, ctx: click.Context | None) -> str:
        command = ctx.command_path if ctx is not None else "mycli COMMAND"
        return f"`mycli list` shows recent runs; then `{command} ID`"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        runs = ask_for_completion(ctx, "/executions", limit=RECENT_RUNS)
        return [
            CompletionItem(run["execution_id"], help=_run_summary(run))
            for run in runs
            if str(run.get("execution_id", "")).startswith(incomplete)
        ]


def _run_summary(run: dict[str, Any]) -> str:
    command = " ".join(str(run.get("command", "")).split())
    return f"{run.get('status', '?')}: {command[:50]}"


class ImageName(click.ParamType[str]):
    """The name of a registered image: completes from the server's images."""

    name = "image"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        images = ask_for_completion(ctx, "/images")
        return [
            CompletionItem(image["name"], help=str(image.get("description") or ""))
            for image in images
            if str(image.get("name", "")).startswith(incomplete)
        ]


class LockName(click.ParamType[str]):
    """A lock's name: completes from the locks held or waited for now."""

    name = "lock"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        locks = ask_for_completion(ctx, "/locks", key="locks")
        return [
            CompletionItem(lock["name"], help=_lock_summary(lock))
            for lock in locks
            if str(lock.get("name", "")).startswith(incomplete)
        ]


def _lock_summary(lock: dict[str, Any]) -> str:
    holder = lock.get("holder") or {}
    who = f"{holder.get('kind', 'held')} by {holder.get('user_email')}" if holder else "free"
    return f"{who}, {len(lock.get('queue') or [])} waiting"


EXECUTION_ID = ExecutionId()
LOCK_NAME = LockName()
IMAGE_NAME = ImageName()
