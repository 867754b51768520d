"""SecretService and secrets in ExecutionService.start, with in-memory fakes."""

from __future__ import annotations

import pytest

from orchestrator.domain.errors import Forbidden, NotFound, ValidationFailed
from orchestrator.domain.models import (
    MAX_SECRET_VALUE_BYTES,
    ExecutionRequest,
    LaunchSpec,
    Secret,
    SecretValues,
)
from orchestrator.domain.secrets import image_allows
from support import ADMIN, ALICE, FakeWorld

VALUE = "pa55-w0rd-value"


def test_an_admin_sets_a_secret_and_its_metadata_never_holds_the_value(world: FakeWorld) -> None:
    secrets = world.services.secrets
    assert secrets is not None

    first = secrets.set(ADMIN, "db.password", VALUE, "the db", ["terraform", "psql", "psql"])
    again = secrets.set(ADMIN, "db.password", VALUE + "2")

    assert (first.version, again.version) == (1, 2)
    assert first.images == ("psql", "terraform")
    assert (first.set_by, first.set_at) == (ADMIN.email, "2026-01-01T12:00:00.000Z")
    assert VALUE not in repr(first) and VALUE not in str(first.to_dict())
    assert [s.name for s in secrets.list(ADMIN)] == ["db.password"]
    assert world.secrets.secrets["db.password"][1] == VALUE + "2"


def test_users_cannot_set_list_or_delete_secrets(world: FakeWorld) -> None:
    secrets = world.services.secrets
    assert secrets is not None
    secrets.set(ADMIN, "token", VALUE)

    for attempt in (
        lambda: secrets.set(ALICE, "token", "x"),
        lambda: secrets.list(ALICE),
        lambda: secrets.delete(ALICE, "token"),
    ):
        with pytest.raises(Forbidden):
            attempt()
    assert world.secrets.secrets["token"][1] == VALUE


@pytest.mark.parametrize(
    ("name", "value", "description", "images", "words"),
    [
        ("bad name", VALUE, "", [], "secret names are"),
        ("x" * 129, VALUE, "", [], "secret names are"),
        ("token", "", "", [], "empty"),
        ("token", "a\x00b", "", [], "NUL"),
        ("token", "é" * (MAX_SECRET_VALUE_BYTES // 2 + 1), "", [], "over 8192 bytes"),
        ("token", VALUE, "two\nlines", [], "control characters"),
        ("token", VALUE, "d" * 257, [], "longer than 256"),
        ("token", VALUE, "", ["no spaces"], "image names are"),
        ("token", VALUE, "", [f"i{n}" for n in range(21)], "at most 20 images"),
    ],
)
def test_bad_secrets_are_refused_in_words_without_echoing_the_value(
    world: FakeWorld, name: str, value: str, description: str, images: list[str], words: str
) -> None:
    assert world.services.secrets is not None

    with pytest.raises(ValidationFailed) as refused:
        world.services.secrets.set(ADMIN, name, value, description, images)

    assert words in refused.value.message
    assert not value or value not in refused.value.message
    assert world.secrets.secrets == {}


def test_deleting_an_unknown_secret_is_not_found(world: FakeWorld) -> None:
    assert world.services.secrets is not None
    with pytest.raises(NotFound):
        world.services.secrets.delete(ADMIN, "nothing")


def test_a_run_gets_its_secrets_in_the_launch_spec_and_only_names_in_the_record(
    world: FakeWorld,
) -> None:
    assert world.services.secrets is not None
    world.services.secrets.set(ADMIN, "db.password", VALUE)
    world.services.secrets.set(ADMIN, "API_TOKEN", "tok-123456")

    execution = world.services.executions.start(
        ALICE,
        ExecutionRequest(
            "env", env={"MODE": "x"}, secrets={"DB": "db.password", "API_TOKEN": "API_TOKEN"}
        ),
    )

    spec: LaunchSpec = world.runner.launched[0]
    assert spec.secrets == {"DB": VALUE, "API_TOKEN": "tok-123456"}
    assert execution.secret_names == ("API_TOKEN=API_TOKEN", "DB=db.password")
    stored = world.executions.get(execution.execution_id)
    assert stored is not None and stored.secret_names == execution.secret_names
    for shown in (repr(spec), str(spec), repr(stored), str(stored.to_dict())):
        assert VALUE not in shown and "tok-123456" not in shown
    assert world.secrets.reveals == [(("API_TOKEN", "db.password"), execution.execution_id)]


@pytest.mark.parametrize(
    ("secrets", "env", "words"),
    [
        ({"DB": "missing"}, {}, "no such secret: missing"),
        ({"DB": "restricted"}, {}, "restricted to images: terraform"),
        ({"DB": "open"}, {"DB": "x"}, "DB set both as env and as a secret"),
        ({"1DB": "open"}, {}, "invalid variable name"),
    ],
)
def test_a_refused_secret_takes_no_lock_and_records_nothing(
    world: FakeWorld, secrets: dict[str, str], env: dict[str, str], words: str
) -> None:
    assert world.services.secrets is not None
    world.services.secrets.set(ADMIN, "open", VALUE)
    world.services.secrets.set(ADMIN, "restricted", VALUE, images=["terraform"])

    with pytest.raises(ValidationFailed) as refused:
        world.services.executions.start(
            ALICE, ExecutionRequest("true", lock="prod", env=env, secrets=secrets)
        )

    assert words in refused.value.message
    assert world.locks.get("prod") is None
    assert world.runner.launched == []
    assert world.executions.list_active() == []


def test_the_image_check_takes_the_image_name() -> None:
    anywhere = Secret("a", "", (), "x", "t", 1)
    restricted = Secret("b", "", ("terraform",), "x", "t", 1)

    assert image_allows(anywhere, None) and image_allows(anywhere, "psql")
    assert image_allows(restricted, "terraform")
    assert not image_allows(restricted, "psql") and not image_allows(restricted, None)


def test_a_run_on_an_allowed_image_gets_a_restricted_secret(world: FakeWorld) -> None:
    assert world.services.secrets is not None
    world.services.secrets.set(ADMIN, "tf", VALUE, images=["terraform"])

    world.services.executions.start(
        ALICE, ExecutionRequest("true", secrets={"TF": "tf"}, image="terraform")
    )

    assert world.runner.launched[0].secrets == {"TF": VALUE}


def test_secret_values_print_their_names_only() -> None:
    values = SecretValues({"DB": VALUE})

    assert VALUE not in repr(values) and VALUE not in f"{values}" and "DB" in repr(values)
