"""ImageService and runs on images, with in-memory fakes: registration rules, Fargate sizes,
the default image, per-run sizes within the image's limits, removal."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestrator.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from orchestrator.domain.images import FARGATE_SIZES, ImageSpec, check_size
from orchestrator.domain.models import ExecutionRequest, ExecutionStatus, Image
from support import ADMIN, ALICE, IMAGE_ROLE_ARN_PREFIX, FakeWorld

ROLE = IMAGE_ROLE_ARN_PREFIX + "infra"


def register(world: FakeWorld, name: str, **fields: object) -> object:
    assert world.services.images is not None
    return world.services.images.register(
        ADMIN,
        ImageSpec(name=name, uri=f"registry.example/{name}:1", **fields),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [
        (256, 512),
        (256, 2048),
        (512, 4096),
        (1024, 8192),
        (4096, 30720),
        (8192, 61440),
        (16384, 122880),
    ],
)
def test_fargate_sizes_are_accepted(cpu: int, memory: int) -> None:
    check_size(cpu, memory)


def test_a_memory_that_does_not_go_with_the_cpu_lists_the_valid_ones() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_size(256, 4096)

    assert refused.value.details["valid_memory"] == [512, 1024, 2048]
    assert "512, 1024, 2048" in refused.value.message


def test_a_cpu_that_is_no_fargate_size_lists_the_valid_ones() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_size(300, 512)

    assert refused.value.details["valid_cpu"] == sorted(FARGATE_SIZES)
    assert "256, 512, 1024, 2048, 4096, 8192, 16384" in refused.value.message


def test_register_records_who_when_and_the_default_size(world: FakeWorld) -> None:
    image = register(world, "alpine", description="plain shell")

    assert world.images.get("alpine") == image
    stored = world.images.get("alpine")
    assert stored is not None
    assert (stored.cpu, stored.memory, stored.max_cpu, stored.max_memory) == (256, 512, 256, 512)
    assert stored.registered_by == ADMIN.email
    assert stored.registered_at == "2026-01-01T12:00:00.000Z"
    assert stored.platform_ref == "td/alpine"
    assert world.image_platform.registered == ["alpine"]


def test_only_admins_register_and_remove(world: FakeWorld) -> None:
    assert world.services.images is not None
    with pytest.raises(Forbidden):
        world.services.images.register(ALICE, ImageSpec(name="x", uri="x:1"))
    register(world, "x")
    with pytest.raises(Forbidden):
        world.services.images.remove(ALICE, "x")
    assert world.image_platform.unregistered == []


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"cpu": 256, "memory": 4096}, "valid memory"),
        ({"cpu": 1024, "memory": 2048, "max_cpu": 512}, "at least"),
        ({"task_role_arn": "arn:aws:iam::123456789012:role/admin"}, "must start with"),
        ({"task_role_arn": "not-an-arn"}, "IAM role ARN"),
        ({"secrets": ("bad name",)}, "secrets"),
    ],
)
def test_a_bad_registration_is_refused_before_the_backend_is_asked(
    world: FakeWorld, fields: dict[str, object], words: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(world, "img", **fields)

    assert words in refused.value.message
    assert world.image_platform.registered == []
    assert world.images.list_all() == []


def test_a_name_is_taken_once(world: FakeWorld) -> None:
    register(world, "a")

    with pytest.raises(Conflict):
        register(world, "a")

    assert world.image_platform.registered == ["a"]


def test_the_last_image_registered_as_default_is_the_only_default(world: FakeWorld) -> None:
    register(world, "a", is_default=True)
    register(world, "b", is_default=True)

    assert [(i.name, i.is_default) for i in world.images.list_all()] == [
        ("a", False),
        ("b", True),
    ]


def test_a_run_on_an_image_records_it_and_launches_on_its_task_definition(
    world: FakeWorld,
) -> None:
    register(world, "infra", task_role_arn=ROLE, cpu=512, memory=1024)

    execution = world.services.executions.start(ALICE, ExecutionRequest("make", image="infra"))

    assert (execution.image, execution.image_uri, execution.cpu, execution.memory) == (
        "infra",
        "registry.example/infra:1",
        512,
        1024,
    )
    [spec] = world.runner.launched
    assert (spec.image_ref, spec.task_role_arn, spec.cpu, spec.memory) == (
        "td/infra",
        ROLE,
        512,
        1024,
    )


def test_without_an_image_the_default_one_is_used(world: FakeWorld) -> None:
    register(world, "a")
    register(world, "b", is_default=True)

    execution = world.services.executions.start(ALICE, ExecutionRequest("true"))

    assert execution.image == "b"


def test_without_any_default_image_a_run_is_as_before_images(world: FakeWorld) -> None:
    register(world, "a")

    execution = world.services.executions.start(ALICE, ExecutionRequest("true"))

    assert (execution.image, execution.image_uri, execution.cpu, execution.memory) == (
        None,
        None,
        None,
        None,
    )
    assert world.runner.launched[0].image_ref is None
    with pytest.raises(ValidationFailed, match="no default image"):
        world.services.executions.start(ALICE, ExecutionRequest("true", memory=1024))


def test_an_unknown_image_is_not_found(world: FakeWorld) -> None:
    with pytest.raises(NotFound):
        world.services.executions.start(ALICE, ExecutionRequest("true", image="nope"))
    assert world.runner.launched == []


def test_a_run_may_ask_for_a_size_within_the_image_limits(world: FakeWorld) -> None:
    register(world, "big", cpu=256, memory=512, max_cpu=2048, max_memory=8192)
    executions = world.services.executions

    asked_both = executions.start(ALICE, ExecutionRequest("x", image="big", cpu=1024, memory=4096))
    asked_cpu = executions.start(ALICE, ExecutionRequest("x", image="big", cpu=1024))
    asked_memory = executions.start(ALICE, ExecutionRequest("x", image="big", memory=4096))

    assert (asked_both.cpu, asked_both.memory) == (1024, 4096)
    # The other dimension follows: the nearest Fargate size to the image's own.
    assert (asked_cpu.cpu, asked_cpu.memory) == (1024, 2048)
    assert (asked_memory.cpu, asked_memory.memory) == (512, 4096)


@pytest.mark.parametrize(
    ("cpu", "memory", "words"),
    [
        (4096, 8192, "over image big's limit"),
        (2048, 16384, "over image big's limit"),
        (256, 4096, "valid memory"),
    ],
)
def test_a_size_over_the_limit_or_not_fargate_is_refused_before_the_lock(
    world: FakeWorld, cpu: int, memory: int, words: str
) -> None:
    register(world, "big", cpu=256, memory=512, max_cpu=2048, max_memory=8192)

    with pytest.raises(ValidationFailed, match=words):
        world.services.executions.start(
            ALICE, ExecutionRequest("x", image="big", cpu=cpu, memory=memory, lock="prod")
        )

    assert world.locks.get("prod") is None
    assert world.runner.launched == []


def test_removing_an_image_keeps_the_record_of_a_run_on_it(world: FakeWorld) -> None:
    register(world, "a")
    execution = world.services.executions.start(ALICE, ExecutionRequest("sleep 9", image="a"))
    assert world.services.images is not None

    removed = world.services.images.remove(ADMIN, "a")

    assert removed.name == "a"
    assert world.image_platform.unregistered == ["a"]
    kept = world.services.executions.get(ALICE, execution.execution_id)
    assert (kept.image, kept.image_uri, kept.status) == (
        "a",
        "registry.example/a:1",
        ExecutionStatus.STARTING,
    )
    with pytest.raises(NotFound):
        world.services.images.remove(ADMIN, "a")


def test_a_run_on_an_image_made_before_an_upgrade_gets_it_made_again(world: FakeWorld) -> None:
    # Given an image registered before the backend's setup changed (a stack upgrade)
    register(world, "infra")
    world.image_platform.base = "run:2"

    # When two runs start on it
    for _ in range(2):
        world.services.executions.start(ALICE, ExecutionRequest("make", image="infra"))

    # Then the first made it again from the new setup, released the old handle, and both
    # ran on the new one
    assert [spec.image_ref for spec in world.runner.launched] == ["td/infra@run:2"] * 2
    stored = world.images.get("infra")
    assert stored is not None
    assert (stored.platform_ref, stored.platform_base) == ("td/infra@run:2", "run:2")
    assert world.image_platform.released_refs == ["td/infra"]
    assert world.image_platform.registered == ["infra", "infra"]


def test_of_concurrent_runs_making_an_image_again_the_first_recorded_wins(
    world: FakeWorld,
) -> None:
    # Given an out-of-date image, and another container that records its own new handle
    # while this one registers
    register(world, "infra")
    world.image_platform.base = "run:2"
    stale = world.images.get("infra")
    assert stale is not None
    platform_register = world.image_platform.register

    def raced(image: Image) -> Image:
        world.images.replace_platform(stale, replace(stale, platform_ref="td/infra@other"))
        return platform_register(image)

    world.image_platform.register = raced  # type: ignore[method-assign]

    # When a run starts on it
    world.services.executions.start(ALICE, ExecutionRequest("make", image="infra"))

    # Then it runs on the recorded handle and releases the one it made
    assert [spec.image_ref for spec in world.runner.launched] == ["td/infra@other"]
    assert world.image_platform.released_refs == ["td/infra@run:2"]
