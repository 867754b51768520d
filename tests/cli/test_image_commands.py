"""`mycli admin images register --warm/--warm-idle`, `admin images update` and the WARM
columns of `images list`, against a real local server (in process)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cli_harness import CliHarness
from mycli.commands.images import warm_pool

WARM_WARNING = (
    "mycli: warning: warm pools apply on AWS only: warm {n} is recorded, but this server "
    "starts every run at once and keeps no task warm\n"
)


def rows(table: str) -> list[list[str]]:
    """A table's lines split on its column gaps (two spaces or more)."""
    return [re.split(r" {2,}", line.strip()) for line in table.splitlines()]


def listed(harness: CliHarness, *, admin: bool = False) -> list[dict[str, Any]]:
    args = ("admin", "images", "list") if admin else ("images", "list")
    result = harness.run(*args, "-o", "json", key=harness.admin_key)
    assert result.exit_code == 0, result.output
    items: list[dict[str, Any]] = json.loads(result.stdout)
    return items


def test_register_with_a_pool_warns_here_and_every_listing_shows_it(harness: CliHarness) -> None:
    # When an admin registers an image with a pool of 2 that idles after 30 minutes, and one
    # without a pool
    pooled = harness.run(
        *("admin", "images", "register", "tools", "--image", "alpine:3.20"),
        *("--warm", "2", "--warm-idle", "30m"),
        key=harness.admin_key,
    )
    plain = harness.run(
        "admin", "images", "register", "plain", "--image", "alpine:3.20", key=harness.admin_key
    )

    # Then the pool is recorded as asked, and the embedded server says it keeps none
    assert pooled.exit_code == 0, pooled.output
    assert pooled.stdout == (
        "registered tools (0.25 vCPU / 512 MiB; warm 2, scales to zero after 30 min without "
        "a run)\n"
    )
    assert pooled.stderr.endswith(WARM_WARNING.format(n=2))
    assert plain.stdout == "registered plain (0.25 vCPU / 512 MiB)\n"
    assert "warm pools" not in plain.stderr
    # and the user's listing shows each pool as ready/target, the admin's its idle time too
    user_table = harness.run("images", "list").stdout
    admin_table = harness.run("admin", "images", "list", key=harness.admin_key).stdout
    assert [row[-1] for row in rows(user_table)] == ["WARM", "-", "0/2"]
    header, no_pool, pool = rows(admin_table)
    assert header[-3:-1] == ["WARM", "IDLE"]
    assert pool[header.index("WARM")] == "0/2"
    assert pool[header.index("IDLE")] == "30 min"
    assert no_pool[header.index("WARM")] == no_pool[header.index("IDLE")] == "-"
    # and -o json passes the server's pool object through, for users and admins alike
    for admin in (False, True):
        assert [
            (i["name"], i["warm"], i["warm_idle_seconds"]) for i in listed(harness, admin=admin)
        ] == [
            ("plain", {"target": 0, "ready": 0, "starting": 0}, 3600),
            ("tools", {"target": 2, "ready": 0, "starting": 0}, 1800),
        ]


def test_update_changes_the_pool_and_warm_0_turns_it_off(harness: CliHarness) -> None:
    harness.run(
        "admin", "images", "register", "tools", "--image", "alpine:3.20", key=harness.admin_key
    )

    # When an admin gives the image a pool, then a longer idle time, then turns it off
    grown = harness.run("admin", "images", "update", "tools", "--warm", "3", key=harness.admin_key)
    idled = harness.run(
        *("admin", "images", "update", "tools", "--warm-idle", "2h", "-o", "json"),
        key=harness.admin_key,
    )
    off = harness.run("admin", "images", "update", "tools", "--warm", "0", key=harness.admin_key)

    # Then each says what the pool is now (the embedded server warning it keeps none)
    assert grown.exit_code == 0, grown.output
    assert grown.stdout == "updated tools: warm 3, scales to zero after 1 h without a run\n"
    assert grown.stderr == WARM_WARNING.format(n=3)
    answer = json.loads(idled.stdout)
    assert (answer["warm"], answer["warm_idle_seconds"]) == (
        {"target": 3, "ready": 0, "starting": 0},
        7200,
    )
    assert (off.stdout, off.stderr) == ("updated tools: no warm pool\n", "")
    [image] = listed(harness)
    assert (image["warm"]["target"], image["warm_idle_seconds"], image["uri"]) == (
        0,
        7200,
        "alpine:3.20",
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("update", "tools"), "nothing to update: give --warm N, --warm-idle DURATION or both"),
        (("update", "tools", "--warm", "51"), "51 is not in the range 0<=x<=50"),
        (("update", "tools", "--warm", "-1"), "-1 is not in the range 0<=x<=50"),
        (("update", "tools", "--warm", "two"), "'two' is not a valid integer"),
        (("update", "tools", "--warm-idle", "30s"), "outside 60 to 604800 seconds"),
        (("update", "tools", "--warm-idle", "8d"), "is not a duration"),
        (("update", "tools", "--warm-idle", "90.5"), "not a whole number of seconds"),
        (("register", "x", "--image", "a:1", "--warm", "99"), "not in the range 0<=x<=50"),
        (("register", "x", "--image", "a:1", "--warm-idle", "169h"), "outside 60 to 604800"),
    ],
)
def test_a_bad_pool_option_is_refused_in_one_line_with_exit_2(
    harness: CliHarness, args: tuple[str, ...], words: str
) -> None:
    harness.run(
        "admin", "images", "register", "tools", "--image", "alpine:3.20", key=harness.admin_key
    )

    result = harness.run("admin", "images", *args, key=harness.admin_key)

    assert result.exit_code == 2, result.output
    assert words in result.stderr
    assert [(i["name"], i["warm"]["target"]) for i in listed(harness)] == [("tools", 0)]


def test_update_of_an_unknown_image_is_4_and_by_a_user_is_3(harness: CliHarness) -> None:
    harness.run(
        "admin", "images", "register", "tools", "--image", "alpine:3.20", key=harness.admin_key
    )

    unknown = harness.run("admin", "images", "update", "nope", "--warm", "1", key=harness.admin_key)
    refused = harness.run("admin", "images", "update", "tools", "--warm", "1")

    assert (unknown.exit_code, refused.exit_code) == (4, 3)
    assert "image nope not found" in unknown.stderr
    assert "admin" in refused.stderr
    assert listed(harness)[0]["warm"]["target"] == 0


@pytest.mark.parametrize(
    ("warm", "shown"),
    [
        ({"target": 3, "ready": 1, "starting": 2}, "1/3 (+2)"),
        ({"target": 3, "ready": 3, "starting": 0}, "3/3"),
        ({"target": 0, "ready": 2, "starting": 0}, "2/0"),  # turned off, its tasks stopping
        ({"target": 0, "ready": 0, "starting": 0}, None),
        (None, None),  # a server from before warm pools
    ],
)
def test_a_pool_is_shown_ready_over_target_then_what_starts(
    warm: dict[str, int] | None, shown: str | None
) -> None:
    assert warm_pool(warm) == shown
