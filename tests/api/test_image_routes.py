"""The images routes through the resolver, on the embedded platform (SQLite, real runs):
who may do what, what users see, statuses and error bodies, runs on images."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from api_harness import ApiHarness

ROLE = "arn:aws:iam::123456789012:role/mycli-task-infra"


def register(api: ApiHarness, **body: Any) -> tuple[int, Any]:
    return api.call("POST", "/images", api.admin_key, body={"uri": "alpine:3.20", **body})


def finished(api: ApiHarness, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        _, execution = api.call("GET", f"/executions/{execution_id}", api.alice_key)
        if execution["status"] in ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"):
            return execution
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_registering_warns_what_an_image_means_on_the_embedded_platform(api: ApiHarness) -> None:
    # When an admin registers a default image, then one for --image only
    _, default = register(api, name="base", cpu=256, memory=512, default=True)
    _, other = register(api, name="big", cpu=1024, memory=2048)

    # Then each answer says the URI is not used here and which runs its size limits
    assert default["warnings"] == [
        "this server runs commands on its own host: the image URI alpine:3.20 is recorded "
        "but never pulled or used",
        "every run without --image will be limited to 512 MiB of memory (the run's cgroup, "
        "else ulimit -v) and 256 CPU units (0.25 CPU, where the cgroup's cpu controller is "
        "available)",
    ]
    assert other["warnings"][1].startswith(
        "runs with --image big will be limited to 2048 MiB of memory"
    )
    # and the listing, which is no registration, carries none
    _, listed = api.call("GET", "/images", api.admin_key)
    assert all("warnings" not in item for item in listed["items"])


def test_an_admin_registers_an_image_and_every_user_lists_it_without_the_role(
    api: ApiHarness,
) -> None:
    # Given an admin registers an image with a task role
    status, image = register(
        api,
        name="infra",
        task_role_arn=ROLE,
        cpu=512,
        memory=1024,
        default=True,
        secrets=["DB_PASSWORD"],
        description="terraform",
    )
    assert status == 201, image
    assert image["task_role_arn"] == ROLE
    assert (image["cpu"], image["memory"], image["max_cpu"], image["max_memory"]) == (
        512,
        1024,
        512,
        1024,
    )
    assert image["registered_by"] == "admin@example.com"

    # When a user and the admin list images
    _, as_user = api.call("GET", "/images", api.alice_key)
    _, as_admin = api.call("GET", "/images", api.admin_key)

    # Then both see it, and only the admin sees its role and default secrets
    [seen] = as_user["items"]
    assert (seen["name"], seen["is_default"], seen["secrets"]) == ("infra", True, [])
    assert seen["task_role_arn"] is None
    assert as_admin["items"][0]["task_role_arn"] == ROLE
    assert as_admin["items"][0]["secrets"] == ["DB_PASSWORD"]


def test_a_warm_pool_is_recorded_and_shown_but_kept_on_aws_only(api: ApiHarness) -> None:
    # When an admin registers an image with a warm pool, and one without
    status, warm = register(api, name="tools", warm=2, warm_idle_seconds=600)
    _, plain = register(api, name="plain")

    # Then the pool is recorded as asked, none of it ready, and the answer says why
    assert status == 201, warm
    assert (warm["warm"], warm["warm_idle_seconds"]) == (
        {"target": 2, "ready": 0, "starting": 0},
        600,
    )
    assert warm["warnings"][-1] == (
        "warm pools apply on AWS only: warm 2 is recorded, but this server starts every run "
        "at once and keeps no task warm"
    )
    assert (plain["warm"], plain["warm_idle_seconds"]) == (
        {"target": 0, "ready": 0, "starting": 0},
        3600,
    )
    assert not any("warm" in warning for warning in plain["warnings"])
    # and every user's listing shows each pool
    _, listed = api.call("GET", "/images", api.alice_key)
    assert [(i["name"], i["warm"]) for i in listed["items"]] == [
        ("plain", {"target": 0, "ready": 0, "starting": 0}),
        ("tools", {"target": 2, "ready": 0, "starting": 0}),
    ]


def test_users_cannot_register_or_remove(api: ApiHarness) -> None:
    register(api, name="a")

    status, body = api.call("POST", "/images", api.alice_key, body={"name": "b", "uri": "x"})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = api.call("DELETE", "/images/a", api.bob_key)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert [i["name"] for i in api.call("GET", "/images", api.alice_key)[1]["items"]] == ["a"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "a", "cpu": 256, "memory": 4096}, "valid memory (MiB): 512, 1024, 2048"),
        ({"name": "a", "cpu": 300}, "valid CPU units: 256, 512"),
        ({"name": "A b"}, "image names are 1-63 lowercase letters"),
        ({"name": "a", "task_role_arn": "role"}, "must be an IAM role ARN"),
        ({"name": "a", "cpu": "256"}, "cpu"),
        ({"name": "a", "uri": "x\u0000"}, "NUL"),
        ({"name": "a", "secrets": ["a b"]}, "invalid default secret"),
        ({"name": "a", "warm": -1}, "warm"),
        ({"name": "a", "warm": 51}, "warm"),
        ({"name": "a", "warm": "2"}, "warm"),
        ({"name": "a", "warm": 1, "warm_idle_seconds": 59}, "warm_idle_seconds"),
        ({"name": "a", "warm_idle_seconds": 604801}, "warm_idle_seconds"),
    ],
)
def test_a_bad_image_is_refused_in_words(api: ApiHarness, body: dict[str, Any], words: str) -> None:
    status, answer = register(api, **body)

    assert status == 400, answer
    assert answer["error"]["code"] == "validation_error"
    assert words in answer["error"]["message"]
    assert api.call("GET", "/images", api.admin_key)[1]["items"] == []


def test_a_name_is_registered_once_and_removed_once(api: ApiHarness) -> None:
    assert register(api, name="a")[0] == 201
    status, body = register(api, name="a")
    assert (status, body["error"]["code"]) == (409, "conflict")

    status, removed = api.call("DELETE", "/images/a", api.admin_key)
    assert (status, removed["name"]) == (200, "a")
    status, body = api.call("DELETE", "/images/a", api.admin_key)
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_a_run_on_an_image_is_recorded_with_it_and_limited_to_its_size(api: ApiHarness) -> None:
    # Given an image whose runs may grow to 1024 CPU units and 2048 MiB
    register(api, name="sized", cpu=256, memory=512, max_cpu=1024, max_memory=2048)

    # When a run asks for more than that, or for a size Fargate has not
    status, over = api.call(
        "POST",
        "/executions",
        api.alice_key,
        body={"command": "true", "image": "sized", "memory": 4096, "lock": "l1"},
    )
    status_bad, bad = api.call(
        "POST",
        "/executions",
        api.alice_key,
        body={"command": "true", "image": "sized", "cpu": 256, "memory": 1536},
    )

    # Then both are refused before anything starts, the lock untaken
    assert (status, over["error"]["code"]) == (400, "validation_error")
    assert "limit" in over["error"]["message"]
    assert status_bad == 400 and "512, 1024, 2048" in bad["error"]["message"]
    assert api.call("GET", "/locks", api.alice_key)[1]["locks"] == []

    # And a run within the limits is recorded with its image and size, its memory applied
    status, created = api.call(
        "POST",
        "/executions",
        api.alice_key,
        body={"command": "ulimit -v", "image": "sized", "memory": 1024},
    )
    assert status == 202, created
    done = finished(api, created["execution_id"])
    assert (done["image"], done["image_uri"], done["cpu"], done["memory"]) == (
        "sized",
        "alpine:3.20",
        256,
        1024,
    )
    _, page = api.call("GET", f"/executions/{created['execution_id']}/logs", api.alice_key)
    output = b"".join(base64.b64decode(c["data"]) for c in page["chunks"]).decode()
    assert done["status"] == "SUCCEEDED"
    assert output.strip() in (str(1024 * 1024), "unlimited")  # unlimited: cgroup memory.max


def test_an_unknown_image_is_not_found(api: ApiHarness) -> None:
    status, body = api.call(
        "POST", "/executions", api.alice_key, body={"command": "true", "image": "nope"}
    )
    assert (status, body["error"]["code"]) == (404, "not_found")


def update(api: ApiHarness, name: str, key: str | None = None, **body: Any) -> tuple[int, Any]:
    return api.call("PATCH", f"/images/{name}", key or api.admin_key, body=body)


def test_an_admin_changes_a_pool_and_the_answer_is_the_image_as_listed(api: ApiHarness) -> None:
    # Given an image registered with no pool
    _, registered = register(api, name="tools", cpu=512, memory=1024, description="kubectl")

    # When an admin gives it a pool of 3, then a longer idle time, then turns the pool off
    status, pooled = update(api, "tools", warm=3)
    _, idled = update(api, "tools", warm_idle_seconds=7200)
    _, off = update(api, "tools", warm=0)

    # Then each answer is the image as GET /images shows it, with the pool as set
    assert status == 200, pooled
    assert (pooled["warm"], pooled["warm_idle_seconds"]) == (
        {"target": 3, "ready": 0, "starting": 0},
        3600,
    )
    assert (idled["warm"]["target"], idled["warm_idle_seconds"]) == (3, 7200)
    assert (off["warm"]["target"], off["warm_idle_seconds"]) == (0, 7200)
    _, listed = api.call("GET", "/images", api.admin_key)
    assert listed["items"] == [{k: v for k, v in off.items() if k != "warnings"}]
    # and nothing else of the image changed
    unchanged = ("uri", "cpu", "memory", "description", "registered_at", "registered_by")
    assert all(off[field] == registered[field] for field in unchanged)
    # and here a pool is recorded only, which the answer says while it is above 0
    assert pooled["warnings"] == [
        "warm pools apply on AWS only: warm 3 is recorded, but this server starts every run "
        "at once and keeps no task warm"
    ]
    assert off["warnings"] == []


def test_only_admins_change_a_pool(api: ApiHarness) -> None:
    register(api, name="tools")

    for key in (api.alice_key, api.bob_key):
        status, body = update(api, "tools", key, warm=2)
        assert (status, body["error"]["code"]) == (403, "forbidden")
    # a user is refused before the image is looked up: no name is revealed by a 404
    assert update(api, "nope", api.alice_key, warm=2)[0] == 403
    assert api.call("GET", "/images", api.alice_key)[1]["items"][0]["warm"]["target"] == 0


def test_a_pool_change_of_an_unknown_image_is_not_found(api: ApiHarness) -> None:
    status, body = update(api, "nope", warm=2)

    assert (status, body["error"]["code"]) == (404, "not_found")
    assert "image nope not found" in body["error"]["message"]
    assert api.call("GET", "/images", api.admin_key)[1]["items"] == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "nothing to update"),
        ({"warm": None}, "nothing to update"),
        ({"warm": -1}, "warm"),
        ({"warm": 51}, "warm"),
        ({"warm": "2"}, "warm"),
        ({"warm": 1.5}, "warm"),
        ({"warm_idle_seconds": 59}, "warm_idle_seconds"),
        ({"warm_idle_seconds": 604801}, "warm_idle_seconds"),
        ({"warm": 1, "cpu": 512}, "cpu"),
    ],
)
def test_a_bad_pool_change_is_refused_in_words_and_changes_nothing(
    api: ApiHarness, body: dict[str, Any], words: str
) -> None:
    register(api, name="tools", warm=1, warm_idle_seconds=600)

    status, answer = update(api, "tools", **body)

    assert status == 400, answer
    assert answer["error"]["code"] == "validation_error"
    assert words in answer["error"]["message"]
    [image] = api.call("GET", "/images", api.admin_key)[1]["items"]
    assert (image["warm"]["target"], image["warm_idle_seconds"]) == (1, 600)
