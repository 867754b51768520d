"""Runs the CLI in-process with click's CliRunner, against a given server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from mycli.main import cli
from orchestrator.local.platform import LocalPlatform


@dataclass
class CliHarness:
    url: str
    admin_key: str
    user_key: str
    config_home: Path
    platform: LocalPlatform

    def run(
        self,
        *args: str,
        key: str | None = None,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> Result:
        environment = {
            "XDG_CONFIG_HOME": str(self.config_home),
            "MYCLI_API_URL": self.url,
            "MYCLI_API_KEY": key if key is not None else self.user_key,
            "MYCLI_PROFILE": "",
            **(env or {}),
        }
        return CliRunner().invoke(
            cli, list(args), env=environment, input=input, catch_exceptions=False
        )
