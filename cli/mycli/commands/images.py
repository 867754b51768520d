"""`mycli images list` for everyone; `mycli admin images register | list | remove`."""

from __future__ import annotations

from typing import Any

import click

from mycli.client import api_path
from mycli.commands.common import pass_app
from mycli.commands.remote_values import IMAGE_NAME
from mycli.main import AppContext
from mycli.output import ago, emit_json, emit_table, output_option

IMAGE_COLUMNS = (
    ("NAME", "name"),
    ("DESCRIPTION", "description"),
    ("SIZE", "size"),
    ("DEFAULT", "is_default"),
)
ADMIN_IMAGE_COLUMNS = (
    ("NAME", "name"),
    ("URI", "uri"),
    ("SIZE", "size"),
    ("MAX", "max_size"),
    ("DEFAULT", "is_default"),
    ("ROLE", "task_role_arn"),
    ("SECRETS", "secrets"),
    ("REGISTERED", "registered"),
)


def size(cpu: Any, memory: Any) -> str:
    """`0.25 vCPU / 512 MiB` from Fargate CPU units and MiB."""
    return f"{int(cpu) / 1024:g} vCPU / {memory} MiB"


def _rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **image,
            "size": size(image["cpu"], image["memory"]),
            "max_size": size(image["max_cpu"], image["max_memory"]),
            "registered": f"{ago(image.get('registered_at'))} by {image.get('registered_by')}",
        }
        for image in items
    ]


@click.group()
def images() -> None:
    """Images runs execute in (`mycli exec --image NAME`)."""


@images.command("list")
@output_option
@pass_app
def list_images(app: AppContext, output: str) -> None:
    """Show the images: name, description, size, which one is the default."""
    items = app.client().get("/images")["items"]
    if output == "json":
        emit_json(items)
    else:
        emit_table(_rows(items), IMAGE_COLUMNS, empty="no images")


@click.group("images")
def admin_images() -> None:
    """Register and remove images (admin role)."""


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
    output: str,
) -> None:
    """Register image NAME. Sizes are Fargate's (CPU units with their memory choices) on
    every backend; runs may ask up to --max-cpu/--max-memory."""
    body: dict[str, Any] = {"name": name, "uri": uri, "description": description}
    optional = {
        "task_role_arn": task_role_arn,
        "cpu": cpu,
        "memory": memory,
        "max_cpu": max_cpu,
        "max_memory": max_memory,
    }
    body |= {key: value for key, value in optional.items() if value is not None}
    if is_default:
        body["default"] = True
    if secrets:
        body["secrets"] = list(secrets)
    image = app.client().post("/images", body)
    for warning in image.get("warnings") or []:
        click.echo(f"mycli: warning: {warning}", err=True)
    if output == "json":
        emit_json(image)
    else:
        click.echo(
            f"registered {image['name']} ({size(image['cpu'], image['memory'])}"
            f"{', default' if image['is_default'] else ''})"
        )


@admin_images.command("list")
@output_option
@pass_app
def admin_list_images(app: AppContext, output: str) -> None:
    """Show the images with their URIs, limits, roles and default secrets."""
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
