"""`mycli admin add-user | revoke-user | list-users`."""

from __future__ import annotations

import click

from mycli.client import api_path
from mycli.commands.common import pass_app
from mycli.commands.secrets import secrets
from mycli.main import AppContext
from mycli.output import ago, emit_json, emit_table, output_option

USER_COLUMNS = (
    ("EMAIL", "email"),
    ("ROLE", "role"),
    ("CREATED", "created_ago"),
    ("REVOKED", "revoked"),
    ("LAST USED", "last_used_ago"),
)


@click.group()
def admin() -> None:
    """Manage users and their API keys, and stored secrets (admin role)."""


admin.add_command(secrets)


@admin.command("add-user")
@click.argument("email")
@click.option("--role", type=click.Choice(["user", "admin"]), default="user", show_default=True)
@output_option
@pass_app
def add_user(app: AppContext, email: str, role: str, output: str) -> None:
    """Create a user and print their API key. It is shown only this once."""
    created = app.client().post("/users", {"email": email, "role": role})
    if output == "json":
        emit_json(created)
        return
    click.echo(created["api_key"])
    click.echo(
        f"mycli: created {created['email']} ({created['role']}); pass the key on securely, "
        "it cannot be shown again",
        err=True,
    )


@admin.command("revoke-user")
@click.argument("email")
@output_option
@pass_app
def revoke_user(app: AppContext, email: str, output: str) -> None:
    """Revoke every API key of a user, effective on their next request."""
    user = app.client().delete(api_path("users", email))
    if output == "json":
        emit_json(user)
    else:
        click.echo(f"revoked {email}")


@admin.command("list-users")
@output_option
@pass_app
def list_users(app: AppContext, output: str) -> None:
    """Show users, roles, when they were created and last used, and whether revoked."""
    items = app.client().get("/users")["items"]
    if output == "json":
        emit_json(items)
    else:
        rows = [
            {
                **user,
                "created_ago": ago(user.get("created_at")),
                "last_used_ago": ago(user.get("last_used")),
            }
            for user in items
        ]
        emit_table(rows, USER_COLUMNS, empty="no users")
