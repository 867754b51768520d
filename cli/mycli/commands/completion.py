"""`mycli completion bash|zsh|fish`: print the shell completion script (click's own)."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL. Load it with, for bash,
    `eval "$(mycli completion bash)"` (in ~/.bashrc); zsh likewise in ~/.zshrc;
    fish: `mycli completion fish > ~/.config/fish/completions/mycli.fish`."""
    completion_class = get_completion_class(shell)
    assert completion_class is not None  # the three choices are click's built-in shells
    root = ctx.find_root()
    script = completion_class(root.command, {}, "mycli", "_MYCLI_COMPLETE").source()
    click.echo(script)
