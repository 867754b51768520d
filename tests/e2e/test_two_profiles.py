"""Two profiles on a real `mycli local up`: the admin's `local` and a user's, configured with
the key on stdin; switching between them, `--profile` after the subcommand, MYCLI_PROFILE."""

from __future__ import annotations

import json
import subprocess

import pytest

from deployment import MYCLI, LocalDeployment

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.embedded_only("profiles are the CLI's own; one backend proves them"),
]


def who(deployment: LocalDeployment, *args: str, **env: str) -> str:
    result = subprocess.run(
        [MYCLI, *args],
        env={**deployment.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split(" ")[0]


def test_two_profiles_switching_and_profile_after_the_subcommand(
    deployment: LocalDeployment,
) -> None:
    bob_key = deployment.mycli("admin", "add-user", "bob@example.com", check=True).stdout.strip()
    configured = subprocess.run(
        [MYCLI, "configure", "--profile", "bob", "--api-url", deployment.url, "--api-key-stdin"],
        env=deployment.env,
        input=bob_key + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert configured.returncode == 0, configured.stderr
    assert "current profile is still 'local'" in configured.stderr

    listed = json.loads(deployment.mycli("profiles", "list", "-o", "json", check=True).stdout)
    assert listed == [
        {"name": "bob", "api_url": deployment.url, "current": False},
        {"name": "local", "api_url": deployment.url, "current": True},
    ]
    assert who(deployment, "whoami") == "admin@localhost"
    assert who(deployment, "whoami", "--profile", "bob") == "bob@example.com"
    assert who(deployment, "--profile", "bob", "whoami") == "bob@example.com"
    assert who(deployment, "whoami", MYCLI_PROFILE="bob") == "bob@example.com"

    ran = deployment.mycli("exec", "--profile", "bob", "--", "echo", "--profile", "local")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "--profile local\n"
    [run] = json.loads(deployment.mycli("list", "-o", "json", "--profile", "bob").stdout)["items"]
    assert run["user_email"] == "bob@example.com"

    deployment.mycli("profiles", "use", "bob", check=True)
    assert who(deployment, "whoami") == "bob@example.com"
    assert who(deployment, "whoami", "--profile", "local") == "admin@localhost"
    deployment.mycli("profiles", "use", "local", check=True)
    assert who(deployment, "whoami") == "admin@localhost"

    removed = deployment.mycli("profiles", "remove", "bob", "--yes", check=True)
    assert removed.stdout == "removed profile 'bob'\n"
    names = [
        p["name"] for p in json.loads(deployment.mycli("profiles", "list", "-o", "json").stdout)
    ]
    assert names == ["local"]
