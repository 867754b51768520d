"""ImageStore contract: create once, read back every field, list by name, one default,
delete."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import Image


def image(name: str, **fields: Any) -> Image:
    values: dict[str, Any] = {
        "name": name,
        "uri": f"registry.example/{name}:1",
        "cpu": 256,
        "memory": 512,
        "max_cpu": 1024,
        "max_memory": 2048,
        "registered_by": "admin@x.io",
        "registered_at": "2026-01-01T00:00:00.000Z",
        **fields,
    }
    return Image(**values)


def test_an_image_reads_back_with_every_field(image_store: Any) -> None:
    # Given an image with every optional field set
    full = image(
        "terraform",
        description="terraform 1.9 and aws-cli",
        task_role_arn="arn:aws:iam::123456789012:role/mycli-task-infra",
        is_default=True,
        secrets=("DB_PASSWORD", "api.token"),
        platform_ref="arn:aws:ecs:eu-west-1:123456789012:task-definition/x-image-terraform:1",
        warm=3,
        warm_idle_seconds=900,
    )
    bare = image("bare")

    # When both are stored
    image_store.create(full)
    image_store.create(bare)

    # Then each reads back as it was, and the listing is by name
    assert image_store.get("terraform") == full
    assert image_store.get("bare") == bare
    assert image_store.get("nope") is None
    assert image_store.list_all() == [bare, full]


def test_a_name_is_registered_once(image_store: Any) -> None:
    image_store.create(image("a"))

    with pytest.raises(Conflict):
        image_store.create(image("a", uri="other"))

    assert image_store.get("a").uri == "registry.example/a:1"


def test_only_one_image_is_the_default(image_store: Any) -> None:
    # Given a default image and another
    image_store.create(image("a", is_default=True))
    image_store.create(image("b"))

    # When the other becomes the default
    image_store.set_default("b")

    # Then it alone is
    assert [(i.name, i.is_default) for i in image_store.list_all()] == [("a", False), ("b", True)]


def test_delete_forgets_the_image_once(image_store: Any) -> None:
    image_store.create(image("a"))

    assert image_store.delete("a") is True
    assert image_store.delete("a") is False
    assert image_store.get("a") is None
    assert image_store.list_all() == []


def test_a_platform_handle_is_replaced_only_while_it_is_the_recorded_one(
    image_store: Any,
) -> None:
    # Given an image recorded with its first handle
    image_store.create(image("tools", platform_ref="td/tools:1"))
    first = image_store.get("tools")

    # When two runs each replace that handle (concurrent re-registrations)
    won = image_store.replace_platform(first, replace(first, platform_ref="td/tools:2"))
    lost = image_store.replace_platform(first, replace(first, platform_ref="td/tools:3"))

    # Then only the first lands, and nothing else of the image changes
    assert (won, lost) == (True, False)
    assert image_store.get("tools") == replace(
        first, platform_ref="td/tools:2", platform_base=image_store.get("tools").platform_base
    )
    # and a removed image is not brought back
    image_store.delete("tools")
    again = image_store.replace_platform(first, replace(first, platform_ref="td/tools:4"))
    assert again is False
    assert image_store.get("tools") is None


def test_a_pool_update_sets_the_fields_given_and_nothing_else(image_store: Any) -> None:
    # Given an image with a pool of 2 that scales to zero after 15 minutes
    image_store.create(image("tools", warm=2, warm_idle_seconds=900, platform_ref="td/tools:1"))
    before = image_store.get("tools")

    # When its size is changed, then its idle time, then both
    sized = image_store.update_pool("tools", warm=5, warm_idle_seconds=None)
    idled = image_store.update_pool("tools", warm=None, warm_idle_seconds=7200)
    both = image_store.update_pool("tools", warm=0, warm_idle_seconds=60)

    # Then each answer is the image as recorded after it, the rest of the image unchanged
    assert sized == replace(before, warm=5)
    assert idled == replace(before, warm=5, warm_idle_seconds=7200)
    assert both == replace(before, warm=0, warm_idle_seconds=60)
    assert image_store.get("tools") == both


def test_a_pool_update_never_brings_back_a_removed_image(image_store: Any) -> None:
    # Given an image that was removed, and a name never registered
    image_store.create(image("gone", warm=1))
    image_store.delete("gone")

    # When a pool update arrives for either (an update racing a removal)
    updates = [
        image_store.update_pool(name, warm=3, warm_idle_seconds=600) for name in ("gone", "never")
    ]

    # Then there is nothing to update, and nothing is recorded
    assert updates == [None, None]
    assert image_store.get("gone") is None
    assert image_store.list_all() == []
