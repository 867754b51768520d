"""ImageService.update with in-memory fakes: an admin changes an image's warm pool, the
change wakes an idle pool, and nothing else of the image moves."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fake_warm_pool import InMemoryWarmPool
from fakes import FakeClock, InMemoryImageStore, RecordingImagePlatform
from orchestrator.domain.errors import Forbidden, NotFound, ValidationFailed
from orchestrator.domain.images import ImageService, ImageSpec
from orchestrator.domain.warm_pools import WarmPools
from support import ADMIN, ALICE


class Pools:
    def __init__(self) -> None:
        self.clock = FakeClock()  # 2026-01-01 12:00 UTC
        self.store = InMemoryImageStore()
        self.platform = RecordingImagePlatform()
        self.warm = InMemoryWarmPool()
        self.pools = WarmPools(self.warm, self.clock)
        self.images = ImageService(self.store, self.platform, self.clock, warm_pools=self.pools)


def test_a_pool_set_a_day_after_registration_is_not_idle() -> None:
    # Given an image registered without a pool a day ago, never run since
    world = Pools()
    world.images.register(ADMIN, ImageSpec(name="tools", uri="tools:1"))
    world.clock.advance(86400)

    # When an admin gives it a pool of 2
    image = world.images.update(ADMIN, "tools", warm=2)

    # Then the change counts as demand now, so the next plan starts 2 tasks
    assert image.warm == 2
    assert world.warm.last_demand("tools") == "2026-01-02T12:00:00.000Z"
    [plan] = world.pools.plan([image])
    assert (plan.desired, plan.start) == (2, 2)


def test_turning_a_pool_off_or_changing_its_idle_time_is_no_demand() -> None:
    world = Pools()
    world.images.register(ADMIN, ImageSpec(name="tools", uri="tools:1", warm=3))

    off = world.images.update(ADMIN, "tools", warm=0)
    idle = world.images.update(ADMIN, "tools", warm_idle_seconds=120)

    assert world.warm.last_demand("tools") is None
    assert (off.warm, idle.warm, idle.warm_idle_seconds) == (0, 0, 120)
    [plan] = world.pools.plan([idle])
    assert (plan.desired, plan.start) == (0, 0)


def test_an_update_changes_the_pool_only_and_the_backend_is_not_asked() -> None:
    world = Pools()
    before = world.images.register(ADMIN, ImageSpec(name="tools", uri="tools:1", cpu=512))

    after = world.images.update(ADMIN, "tools", warm=4, warm_idle_seconds=900)

    assert after == replace(before, warm=4, warm_idle_seconds=900)
    assert world.store.get("tools") == after
    assert (world.platform.registered, world.platform.unregistered) == (["tools"], [])


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({}, "nothing to update"),
        ({"warm": -1}, "warm: 0 to 50"),
        ({"warm": 51}, "warm: 0 to 50"),
        ({"warm_idle_seconds": 59}, "warm_idle_seconds: 60 to 604800"),
        ({"warm_idle_seconds": 604801}, "warm_idle_seconds: 60 to 604800"),
    ],
)
def test_a_bad_update_is_refused_and_changes_nothing(fields: dict[str, int], words: str) -> None:
    world = Pools()
    before = world.images.register(ADMIN, ImageSpec(name="tools", uri="tools:1", warm=1))

    with pytest.raises(ValidationFailed) as refused:
        world.images.update(ADMIN, "tools", **fields)

    assert words in refused.value.message
    assert world.store.get("tools") == before


def test_users_are_refused_and_an_unknown_image_is_not_found() -> None:
    world = Pools()
    world.images.register(ADMIN, ImageSpec(name="tools", uri="tools:1"))

    with pytest.raises(Forbidden):
        world.images.update(ALICE, "tools", warm=2)
    with pytest.raises(Forbidden):
        world.images.update(ALICE, "nope", warm=2)
    with pytest.raises(NotFound):
        world.images.update(ADMIN, "nope", warm=2)
    assert world.store.list_all()[0].warm == 0
    assert world.warm.last_demand("nope") is None
