"""`mycli console`: open the web console of the current profile's platform in a browser, or
print its URL where there is no browser to open."""

from __future__ import annotations

import os
import sys

import click

from mycli.commands.common import pass_app
from mycli.errors import ConfigError
from mycli.main import AppContext


@click.command()
@click.option("--print", "print_only", is_flag=True, help="Print the URL; open nothing.")
@pass_app
def console(app: AppContext, print_only: bool) -> None:
    """Open the web console (sign in there with your API key)."""
    from mycli.config import resolve_profile

    profile = resolve_profile(app.profile_name)
    if not profile.api_url:
        raise ConfigError(
            f"no API URL for profile '{profile.name}': run `mycli local up` or "
            "`mycli configure`, or set MYCLI_API_URL"
        )
    url = profile.api_url.rstrip("/") + "/ui/"
    if not print_only and has_display() and _open(url):
        click.echo(f"mycli: opened {url} in your browser", err=True)
        return
    click.echo(url)


def has_display() -> bool:
    """Whether a graphical browser could show a page here (on Linux: an X or Wayland display;
    without one, webbrowser would start a text browser in this terminal)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open(url: str) -> bool:
    import webbrowser

    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False
