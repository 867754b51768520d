"""The e2e suite's second backend: the Fargate twin (`./scripts/aws-twin up`) in a temporary
home, driven through the same real `mycli` command, with the interface of LocalDeployment
(the `twin` profile stands where `local` does)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deployment import LocalDeployment

ROOT = Path(__file__).resolve().parents[2]
AWS_TWIN = str(ROOT / "scripts" / "aws-twin")
PROFILE = "twin"
# The e2e suite's reaper runs every 2 s (the template's is every minute).
REAPER_INTERVAL_SECONDS = "2"


class TwinIncompatible(Exception):
    """What a test asked of the deployment has no meaning on the twin (and why)."""


@dataclass
class TwinDeployment(LocalDeployment):
    @property
    def run_dir(self) -> Path:
        return self.home / "twin-run"

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "MYCLI_PROFILE": PROFILE}

    @property
    def profile(self) -> dict[str, str]:
        import tomllib

        config = tomllib.loads((self.home / "config" / "mycli" / "config.toml").read_text())
        profile: dict[str, str] = config["profiles"][PROFILE]
        return profile

    @property
    def server_pid(self) -> int:
        return int(json.loads((self.run_dir / "state.json").read_text())["pid"])

    def up(self, *extra: str) -> None:
        if extra:
            raise TwinIncompatible(f"`mycli local up` options {extra} do not apply to the twin")
        result = subprocess.run(
            [
                AWS_TWIN,
                "up",
                "--dir",
                str(self.run_dir),
                "--reaper-interval",
                REAPER_INTERVAL_SECONDS,
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    def down(self) -> None:
        subprocess.run(
            [AWS_TWIN, "down", "--dir", str(self.run_dir)],
            env=self.env,
            capture_output=True,
            timeout=120,
            check=False,
        )
