"""Against a real `mycli local up`: an admin registers images, users run on them and see
them in the record, a non-admin cannot register or remove (3), a size Fargate has not is
refused (2), the memory size really limits the command, and removing an image a run is
using leaves that run alone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from deployment import LocalDeployment, running_deployment

# Prints the run's memory limit: its cgroup's memory.max where the host delegates the
# memory controller, else the address-space limit (`ulimit -v`, KiB).
SHOW_MEMORY_LIMIT = (
    'cg=$(sed -n "s/^0:://p" /proc/self/cgroup); '
    "for root in /sys/fs/cgroup /sys/fs/cgroup/unified; do "
    'if [ -f "$root$cg/memory.max" ]; then echo "memory.max $(cat "$root$cg/memory.max")"; fi; '
    "done; "
    'echo "ulimit-v $(ulimit -v)"'
)


def register(platform: LocalDeployment, name: str, **body: object) -> None:
    """Set-up through the API itself (the CLI's own path is tested once, below)."""
    status, image = platform.api(
        "POST", "/images", platform.admin_key, {"name": name, "uri": "x:1", **body}
    )
    assert status == 201, image


def user(platform: LocalDeployment, email: str) -> str:
    status, created = platform.api("POST", "/users", platform.admin_key, {"email": email})
    assert status == 201, created
    key: str = created["api_key"]
    return key


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    with running_deployment(tmp_path_factory.mktemp("images")) as local:
        yield local


def test_images_from_registration_to_runs_and_removal(platform: LocalDeployment) -> None:
    alice = user(platform, "alice-images@example.com")

    # Given an admin stores a secret and registers two images, the default one carrying it
    stored = platform.api(
        "PUT", "/secrets/DB_PASSWORD", platform.admin_key, {"value": "images-e2e-pw-91"}
    )
    assert stored[0] == 200, stored
    registered = platform.mycli(
        "admin",
        "images",
        "register",
        "tools",
        "--image",
        "registry.example/tools:2",
        "--cpu",
        "512",
        "--memory",
        "1024",
        "--max-memory",
        "2048",
        "--description",
        "build tools",
        "--default",
        "--secret",
        "DB_PASSWORD",
        check=True,
    )
    assert "registered tools (0.5 vCPU / 1024 MiB, default)" in registered.stdout
    register(platform, "small", uri="alpine:3.20")

    # When Alice lists them, Then she sees names, descriptions, sizes and the default
    table = platform.mycli("images", "list", key=alice, check=True).stdout
    assert "tools  build tools  0.5 vCPU / 1024 MiB  yes" in table
    listed = json.loads(platform.mycli("images", "list", "-o", "json", key=alice).stdout)
    assert [(i["name"], i["task_role_arn"]) for i in listed] == [("small", None), ("tools", None)]

    # When she runs without --image and on the other image, Then each record says which
    default_run = platform.mycli(
        "exec", "--", 'echo on-default "$DB_PASSWORD"', key=alice, check=True
    )
    assert default_run.stdout == "on-default ***\n"  # the image's default secret, masked
    small_run = platform.mycli(
        "exec", "--detach", "-o", "json", "--image", "small", "--", "true", key=alice, check=True
    )
    small_id = json.loads(small_run.stdout)["execution_id"]
    status = platform.mycli("status", small_id, key=alice, check=True).stdout
    assert re.search(r"^image +small$", status, re.M)
    assert re.search(r"^image_uri +alpine:3\.20$", status, re.M)
    [latest, first] = json.loads(
        platform.mycli("list", "-o", "json", "--limit", "2", key=alice, check=True).stdout
    )["items"]
    assert (first["image"], first["image_uri"], first["cpu"], first["memory"]) == (
        "tools",
        "registry.example/tools:2",
        512,
        1024,
    )
    assert (latest["image"], latest["cpu"], latest["memory"]) == ("small", 256, 512)


def test_the_cli_prints_what_a_local_image_means_on_stderr(platform: LocalDeployment) -> None:
    result = platform.mycli(
        *("admin", "images", "register", "warned", "--image", "alpine:3.20", "--default"),
        check=True,
    )
    as_json = platform.mycli(
        *("admin", "images", "register", "warned2", "--image", "alpine:3.20", "-o", "json"),
        check=True,
    )

    assert result.stdout == "registered warned (0.25 vCPU / 512 MiB, default)\n"
    warnings = result.stderr.splitlines()
    assert warnings[0] == (
        "mycli: warning: this server runs commands on its own host: the image URI alpine:3.20 "
        "is recorded but never pulled or used"
    )
    assert warnings[1].startswith(
        "mycli: warning: every run without --image will be limited to 512 MiB of memory"
    )
    assert len(json.loads(as_json.stdout)["warnings"]) == 2
    assert as_json.stderr.count("mycli: warning: ") == 2
    platform.mycli("admin", "images", "remove", "warned", check=True)
    platform.mycli("admin", "images", "remove", "warned2", check=True)


def test_a_user_cannot_register_or_remove_images(platform: LocalDeployment) -> None:
    bob = user(platform, "bob-images@example.com")
    register(platform, "keep")

    registered = platform.mycli("admin", "images", "register", "mine", "--image", "x:1", key=bob)
    remove = platform.mycli("admin", "images", "remove", "keep", key=bob)

    assert registered.returncode == 3, registered.stderr
    assert remove.returncode == 3, remove.stderr
    assert "admin" in remove.stderr
    names = [i["name"] for i in platform.api("GET", "/images", bob)[1]["items"]]
    assert "keep" in names and "mine" not in names


def test_an_invalid_size_is_refused_with_the_valid_choices(platform: LocalDeployment) -> None:
    refused = platform.mycli(
        "admin", "images", "register", "odd", "--image", "x:1", "--cpu", "256", "--memory", "4096"
    )
    register(platform, "capped")
    over = platform.mycli("exec", "--image", "capped", "--memory", "2048", "--", "true")

    assert refused.returncode == 2, refused.stderr
    assert "valid memory (MiB): 512, 1024, 2048" in refused.stderr
    assert over.returncode == 2, over.stderr
    assert "over image capped's limit" in over.stderr


@pytest.mark.embedded_only(
    "the twin's ECS stand-in runs containers as host processes without the task's memory "
    "limit (Fargate enforces it; the template's sizes are asserted in tests/infra)"
)
def test_the_memory_size_limits_the_command(platform: LocalDeployment) -> None:
    register(platform, "roomy", max_memory=2048)

    small = platform.mycli("exec", "--image", "roomy", "--", SHOW_MEMORY_LIMIT, check=True)
    large = platform.mycli(
        "exec", "--image", "roomy", "--memory", "2048", "--", SHOW_MEMORY_LIMIT, check=True
    )
    # A command that needs more than its limit fails: 600 MiB in a 512 MiB run.
    hungry = platform.mycli(
        "exec", "--image", "roomy", "--", "python3 -c 'bytearray(600 * 1024 * 1024)'"
    )

    for result, mib in ((small, 512), (large, 2048)):
        assert (
            f"memory.max {mib * 1024 * 1024}" in result.stdout
            or f"ulimit-v {mib * 1024}" in result.stdout
        ), result.stdout
    assert hungry.returncode != 0
    assert "MemoryError" in hungry.stderr or hungry.returncode == 137


def test_removing_an_image_leaves_a_run_on_it_alone(platform: LocalDeployment) -> None:
    register(platform, "brief")
    status, started = platform.api(
        "POST",
        "/executions",
        platform.admin_key,
        {"command": "sleep 1; echo done", "image": "brief"},
    )
    assert status == 202, started
    execution_id = started["execution_id"]

    removed = platform.mycli("admin", "images", "remove", "brief", check=True)
    logs = platform.mycli("logs", "-f", execution_id, check=True)

    assert removed.stdout == "removed brief\n"
    finished = platform.api("GET", f"/executions/{execution_id}", platform.admin_key)[1]
    assert (finished["status"], finished["image"], finished["image_uri"]) == (
        "SUCCEEDED",
        "brief",
        "x:1",
    )
    assert logs.stdout == "done\n"
    again = platform.mycli("exec", "--image", "brief", "--", "true")
    assert again.returncode == 4, again.stderr
