"""Stored secrets: admins set, list and delete them; a run names the ones it needs and gets
their values in its environment, never in a record, a response or a log line.

A secret may be restricted to images: only runs on one of those images may use it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.domain.errors import Forbidden, NotFound, ValidationFailed
from orchestrator.domain.models import (
    ENV_NAME_PATTERN,
    IMAGE_NAME_PATTERN,
    MAX_SECRET_BYTES_PER_EXECUTION,
    MAX_SECRET_DESCRIPTION_LENGTH,
    MAX_SECRET_IMAGES,
    MAX_SECRET_VALUE_BYTES,
    MAX_SECRETS_PER_EXECUTION,
    SECRET_NAME_PATTERN,
    Caller,
    Secret,
    SecretValues,
    TextKind,
    text_problem,
    utc_iso,
)
from orchestrator.ports import Clock, SecretStore

_SECRET_NAME = re.compile(SECRET_NAME_PATTERN)
_ENV_NAME = re.compile(ENV_NAME_PATTERN)
_IMAGE_NAME = re.compile(IMAGE_NAME_PATTERN)
SECRET_NAME_RULE = (
    "secret names are 1-128 characters of letters, digits and . _ -, not starting with . or -"
)
IMAGE_NAME_RULE = (
    "image names are 1-63 lowercase letters, digits, _ and -, starting with a letter or digit"
)


def is_valid_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.fullmatch(name))


def secret_reference(entry: str) -> tuple[str, str]:
    """(VAR, NAME) of a secret reference: "NAME" (the variable of the same name) or
    "VAR=NAME"."""
    variable, separator, name = entry.partition("=")
    return (variable, name) if separator else (entry, entry)


def secret_count_problem(count: int) -> str | None:
    """Why a run cannot use `count` secrets (over the limit), None when it can."""
    if count > MAX_SECRETS_PER_EXECUTION:
        return f"{count} secrets, over the limit of {MAX_SECRETS_PER_EXECUTION} per run"
    return None


def secret_reference_problem(
    entry: str, taken: Iterable[str], env: Iterable[str], options: tuple[str, str]
) -> str | None:
    """Why the reference `entry` ("NAME" or "VAR=NAME") cannot join a run whose secrets
    already use the variables `taken` and whose env sets `env`; `options` name where env
    and secrets are given (("-e", "--secret"), or a playbook's keys)."""
    variable, name = secret_reference(entry)
    if not _ENV_NAME.fullmatch(variable):
        return (
            f"{variable!r} is not a variable name (letters, digits and _, not starting "
            f"with a digit): use {options[1]} VAR=NAME"
        )
    if not is_valid_secret_name(name):
        return f"{name!r}: {SECRET_NAME_RULE}"
    if variable in taken:
        return f"{variable} is given twice"
    if variable in env:
        return f"{variable} is set both with {options[0]} and with {options[1]}"
    return None


def image_allows(secret: Secret, image: str | None) -> bool:
    """Whether a run on `image` (its name; None: no image named) may use `secret`: any run
    when the secret names no image, otherwise only runs on one of its images."""
    return not secret.images or (image is not None and image in secret.images)


@dataclass(frozen=True)
class ResolvedSecrets:
    """What a run gets: the record's "VAR=NAME" entries and, in memory only, the values."""

    names: tuple[str, ...]
    values: SecretValues


NO_SECRETS = ResolvedSecrets(names=(), values=SecretValues())


class SecretService:
    def __init__(self, store: SecretStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def set(
        self,
        caller: Caller,
        name: str,
        value: str,
        description: str = "",
        images: Iterable[str] = (),
    ) -> Secret:
        """Create or replace the secret `name` (admin only); returns its metadata."""
        _require_admin(caller)
        _check_name(name)
        _check_value(value)
        problem = text_problem(description, TextKind.NAME)
        if problem is not None:
            raise ValidationFailed(f"description {problem}")
        if len(description) > MAX_SECRET_DESCRIPTION_LENGTH:
            raise ValidationFailed(
                f"description is longer than {MAX_SECRET_DESCRIPTION_LENGTH} characters"
            )
        allowed = tuple(sorted(set(images)))
        if len(allowed) > MAX_SECRET_IMAGES:
            raise ValidationFailed(f"a secret names at most {MAX_SECRET_IMAGES} images")
        for image in allowed:
            if not _IMAGE_NAME.fullmatch(image):
                raise ValidationFailed(f"{image!r}: {IMAGE_NAME_RULE}", {"image": image})
        secret = Secret(
            name=name,
            description=description,
            images=allowed,
            set_by=caller.email,
            set_at=utc_iso(self._clock.now()),
            version=0,
        )
        return self._store.put(secret, value)

    def list(self, caller: Caller) -> list[Secret]:
        """Every secret's metadata (admin only); never a value."""
        _require_admin(caller)
        return self._store.list()

    def delete(self, caller: Caller, name: str) -> Secret:
        """Remove the secret `name` (admin only); runs already started keep their copy."""
        _require_admin(caller)
        _check_name(name)
        deleted = self._store.delete(name)
        if deleted is None:
            raise NotFound(f"secret {name} not found", {"name": name})
        return deleted

    def resolve(
        self, wanted: dict[str, str], image: str | None, execution_id: str
    ) -> ResolvedSecrets:
        """The secrets a run asked for (env var -> secret name) on `image`: every name must
        exist (400 otherwise) and allow that image (400 otherwise); then their values."""
        if not wanted:
            return NO_SECRETS
        too_many = secret_count_problem(len(wanted))
        if too_many is not None:
            raise ValidationFailed(too_many)
        for variable, name in wanted.items():
            if not _ENV_NAME.fullmatch(variable):
                raise ValidationFailed(f"invalid variable name {variable!r} for a secret")
            _check_name(name)
        names = sorted(set(wanted.values()))
        known = self._store.describe(names)
        missing = [name for name in names if name not in known]
        if missing:
            raise ValidationFailed(
                f"no such secret: {', '.join(missing)}", {"unknown_secrets": missing}
            )
        refused = [name for name in names if not image_allows(known[name], image)]
        if refused:
            where = f"image {image}" if image else "a run without --image"
            raise ValidationFailed(
                f"secret {', '.join(refused)} may not be used by {where} (restricted to "
                f"images: {', '.join(sorted({i for n in refused for i in known[n].images}))})",
                {"restricted_secrets": refused, "image": image},
            )
        values = self._store.reveal(names, execution_id)
        gone = [name for name in names if name not in values]
        if gone:
            raise ValidationFailed(f"no such secret: {', '.join(gone)}", {"unknown_secrets": gone})
        size = sum(len(values[name].encode()) for name in wanted.values())
        if size > MAX_SECRET_BYTES_PER_EXECUTION:
            raise ValidationFailed(
                f"the secrets' values take {size} bytes; a run may use at most "
                f"{MAX_SECRET_BYTES_PER_EXECUTION}"
            )
        return ResolvedSecrets(
            names=tuple(f"{variable}={name}" for variable, name in sorted(wanted.items())),
            values=SecretValues({variable: values[name] for variable, name in wanted.items()}),
        )


def _require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise Forbidden("this needs the admin role")


def _check_name(name: str) -> None:
    if not _SECRET_NAME.fullmatch(name):
        raise ValidationFailed(f"{name!r}: {SECRET_NAME_RULE}", {"name": name})


def _check_value(value: str) -> None:
    """In words, never echoing the value."""
    if not value:
        raise ValidationFailed("the value is empty")
    problem = text_problem(value, TextKind.VALUE)
    if problem is not None:
        raise ValidationFailed(f"the value {problem}")
    if len(value.encode()) > MAX_SECRET_VALUE_BYTES:
        raise ValidationFailed(f"the value is over {MAX_SECRET_VALUE_BYTES} bytes")
