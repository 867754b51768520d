"""`mycli images list` for everyone; `mycli admin images register | update | list | remove`."""

from __future__ import annotations

from typing import Any

import click

from mycli.client import api_path
from mycli.commands.common import pass_app
from mycli.commands.remote_values import IMAGE_NAME
from mycli.durations import Duration
from mycli.main import AppContext
from mycli.output import ago, emit_json, emit_table, human_duration, output_option
from orchestrator.domain.warm_tasks import (
    MAX_WARM_IDLE_SECONDS,
    MAX_WARM_PER_IMAGE,
    MIN_WARM_IDLE_SECONDS,
)

IMAGE_COLUMNS = (
    ("NAME", "name"),
    ("DESCRIPTION", "description"),
    ("SIZE", "size"),
    ("DEFAULT", "is_default"),
    ("WARM", "warm_pool"),
)
ADMIN_IMAGE_COLUMNS = (
    ("NAME", "name"),
    ("URI", "uri"),
    ("SIZE", "size"),
    ("MAX", "max_size"),
    ("DEFAULT", "is_default"),
    ("ROLE", "task_role_arn"),
    ("SECRETS", "secrets"),
    ("WARM", "warm_pool"),
    ("IDLE", "warm_idle"),
    ("REGISTERED", "registered"),
)
# The options that set a pool, as `register` and `update` take them.
WARM_COUNT = click.IntRange(0, MAX_WARM_PER_IMAGE)
WARM_IDLE = Duration(MIN_WARM_IDLE_SECONDS, MAX_WARM_IDLE_SECONDS, whole=True)
WARM_HELP = (
    "Tasks of the image kept started ahead on AWS, so its runs start in about a second "
    "(0: no pool). Recorded only by `mycli local up`."
)
WARM_IDLE_HELP = (
    "Stop the pool after this long without a run on the image; the next run starts it again: "
    "seconds, or 30m, 2h (1m to 168h; default 1h)."
)


def size(cpu: Any, memory: Any) -> str:
    """`0.25 vCPU / 512 MiB` from Fargate CPU units and MiB."""
    return f"{int(cpu) / 1024:g} vCPU / {memory} MiB"


def warm_pool(warm: Any) -> str | None:
    """`ready/target`, then `(+starting)` while tasks start: `1/3 (+2)`. None (shown `-`)
    without a pool and no task left, or from a server that keeps none."""
    if not isinstance(warm, dict):
        return None
    target, ready, starting = (int(warm.get(key) or 0) for key in ("target", "ready", "starting"))
    if not (target or ready or starting):
        return None
    return f"{ready}/{target}" + (f" (+{starting})" if starting else "")


def _rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **image,
            "size": size(image["cpu"], image["memory"]),
            "max_size": size(image["max_cpu"], image["max_memory"]),
            "registered": f"{ago(image.get('registered_at'))} by {image.get('registered_by')}",
            "warm_pool": warm_pool(image.get("warm")),
            "warm_idle": _idle(image) if _pool_target(image) else None,
        }
        for image in items
    ]


def _idle(image: dict[str, Any]) -> str | None:
    seconds = image.get("warm_idle_seconds")
    return human_duration(seconds) if isinstance(seconds, int) else None


def _pool_target(image: dict[str, Any]) -> int:
    return int((image.get("warm") or {}).get("target") or 0)


def _pool_words(image: dict[str, Any]) -> str:
    """`warm 2, scales to zero after 1 h without a run`, or `no warm pool`."""
    if not _pool_target(image):
        return "no warm pool"
    return f"warm {_pool_target(image)}, scales to zero after {_idle(image)} without a run"


def _warn(answer: dict[str, Any]) -> None:
    for warning in answer.get("warnings") or []:
        click.echo(f"mycli: warning: {warning}", err=True)


@click.group()
def images() -> None:
    """Images runs execute in (`mycli exec --image NAME`)."""


@images.command("list")
@output_option
@pass_app
def list_images(app: AppContext, output: str) -> None:
    """Show the images: name, description, size, which one is the default, and each warm
    pool as READY/TARGET (+STARTING) (`-o json`: the server's `warm` object)."""
    items = app.client().get("/images")["items"]
    if output == "json":
        emit_json(items)
    else:
        emit_table(_rows(items), IMAGE_COLUMNS, empty="no images")


@click.group("images")
def admin_images() -> None:
    """Register, update (warm pools) and remove images (admin role)."""


@admin_images.command("register")
@click.argument("name")
@click.option("--image", "uri", required=True, metavar="URI", help="Container image URI.")
@click.option("--task-role-arn", metavar="ARN", help="IAM role of the run's task (AWS).")
@click.option("--cpu", type=click.IntRange(1), metavar="N", help="CPU units (default 256).")
@click.option("--memory", type=click.IntRange(1), metavar="MIB", help="Memory (default 512).")
@click.option("--description", default="", metavar="TEXT")
@click.option("--default", "is_default", is_flag=True, help="Runs without --image use it.")
@click.option(
    "--max-cpu", type=click.IntRange(1), metavar="N", help="Most CPU a run may ask (default --cpu)."
)
@click.option(
    "--max-memory", type=click.IntRange(1), metavar="MIB", help="Most memory a run may ask."
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="NAME",
    help="A secret runs on it get by default: NAME or VAR=NAME (repeat).",
)
@click.option("--warm", type=WARM_COUNT, metavar="N", help=WARM_HELP)
@click.option("--warm-idle", "warm_idle", type=WARM_IDLE, metavar="DURATION", help=WARM_IDLE_HELP)
@output_option
@pass_app
def register_image(
    app: AppContext,
    name: str,
    uri: str,
    task_role_arn: str | None,
    cpu: int | None,
    memory: int | None,
    description: str,
    is_default: bool,
    max_cpu: int | None,
    max_memory: int | None,
    secrets: tuple[str, ...],
    warm: int | None,
    warm_idle: int | None,
    output: str,
) -> None:
    """Register image NAME. Sizes are Fargate's (CPU units with their memory choices) on
    every backend; runs may ask up to --max-cpu/--max-memory. --warm keeps a pool of tasks
    started ahead on AWS (docs/warm-runners.md for what one costs)."""
    body: dict[str, Any] = {"name": name, "uri": uri, "description": description}
    optional = {
        "task_role_arn": task_role_arn,
        "cpu": cpu,
        "memory": memory,
        "max_cpu": max_cpu,
        "max_memory": max_memory,
        "warm": warm,
        "warm_idle_seconds": warm_idle,
    }
    body |= {key: value for key, value in optional.items() if value is not None}
    if is_default:
        body["default"] = True
    if secrets:
        body["secrets"] = list(secrets)
    image = app.client().post("/images", body)
    _warn(image)
    if output == "json":
        emit_json(image)
    else:
        click.echo(
            f"registered {image['name']} ({size(image['cpu'], image['memory'])}"
            f"{', default' if image['is_default'] else ''}"
            f"{'; ' + _pool_words(image) if _pool_target(image) else ''})"
        )


@admin_images.command("update")
@click.argument("name", type=IMAGE_NAME)
@click.option("--warm", type=WARM_COUNT, metavar="N", help=WARM_HELP)
@click.option("--warm-idle", "warm_idle", type=WARM_IDLE, metavar="DURATION", help=WARM_IDLE_HELP)
@output_option
@pass_app
def update_image(
    app: AppContext, name: str, warm: int | None, warm_idle: int | None, output: str
) -> None:
    """Change image NAME's warm pool; the rest of the image stays as registered. A pool
    above 0 starts within a minute on AWS; --warm 0 stops its tasks.

    Exits 2 on a bad value, 3 for a non-admin, 4 for an unknown image."""
    if warm is None and warm_idle is None:
        raise click.UsageError("nothing to update: give --warm N, --warm-idle DURATION or both")
    body = {
        key: value
        for key, value in (("warm", warm), ("warm_idle_seconds", warm_idle))
        if value is not None
    }
    image = app.client().request("PATCH", api_path("images", name), body=body)
    _warn(image)
    if output == "json":
        emit_json(image)
    else:
        click.echo(f"updated {image['name']}: {_pool_words(image)}")


@admin_images.command("list")
@output_option
@pass_app
def admin_list_images(app: AppContext, output: str) -> None:
    """Show the images with their URIs, limits, roles, default secrets and warm pools
    (READY/TARGET (+STARTING), and the idle time after which each scales to zero)."""
    items = app.client().get("/images")["items"]
    if output == "json":
        emit_json(items)
    else:
        emit_table(_rows(items), ADMIN_IMAGE_COLUMNS, empty="no images")


@admin_images.command("remove")
@click.argument("name", type=IMAGE_NAME)
@output_option
@pass_app
def remove_image(app: AppContext, name: str, output: str) -> None:
    """Remove image NAME; runs already on it keep going."""
    image = app.client().delete(api_path("images", name))
    if output == "json":
        emit_json(image)
    else:
        click.echo(f"removed {name}")
