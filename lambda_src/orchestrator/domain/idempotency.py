"""Idempotent creates: an Idempotency-Key names one execution per user, and stands for one
request. A repeat with the same request returns that execution; a repeat with a different
one is refused (422 `idempotency_key_reused`), so the caller learns its command did not start.

The request is remembered as a fingerprint: a SHA-256 over a canonical JSON of everything
that decides what runs, env values included, salted with the execution id. Only the digest
is stored (never a value), and it is never shown.

Before anything else, a create with a key claims the key's marker (IdempotencyMarker): a
conditional write in the execution store that only one request wins. The others wait for
the winner's execution and answer with it (domain/creation.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass

from orchestrator.domain.errors import IdempotencyKeyReused
from orchestrator.domain.models import RUN, Execution, ExecutionRequest

# Fixed forever: execution ids derived from idempotency keys must not change between releases.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d3c9e-8a52-4b7e-9d0a-2c4e5f718293")
FINGERPRINT_VERSION = "v1"


def idempotent_execution_id(user_email: str, idempotency_key: str) -> str:
    """The execution id a user's Idempotency-Key stands for (the same key -> the same id)."""
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{user_email}\n{idempotency_key}").hex


def request_fingerprint(request: ExecutionRequest, execution_id: str) -> str:
    """`v1:` and the hex SHA-256 of the request's every field as canonical JSON (sorted keys,
    ASCII, no spaces), after the execution id: equal requests give equal fingerprints, and
    the same request under another key gives another. A run's purpose is left out (as before
    purposes existed), so a run's fingerprint is the same across that change."""
    fields = dataclasses.asdict(request)
    if fields["purpose"] == RUN:
        del fields["purpose"]
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    digest = hashlib.sha256(f"{execution_id}\n{canonical}".encode()).hexdigest()
    return f"{FINGERPRINT_VERSION}:{digest}"


@dataclass(frozen=True)
class IdempotencyMarker:
    """The claim of one request on the execution id its key stands for. `owner` is a random
    token of that request; after `expires_at` the store may forget the marker (the
    execution, once recorded, answers repeats by itself)."""

    execution_id: str
    fingerprint: str
    owner: str
    claimed_at: str
    expires_at: str


def check_same_request(first: Execution, fingerprint: str | None) -> Execution:
    """`first`, the execution a repeated key stands for, if `fingerprint` is its request's;
    records made before fingerprints existed (None) are trusted, as they always were."""
    if fingerprint is None or first.request_fingerprint in (None, fingerprint):
        return first
    raise key_reused(first.execution_id)


def key_reused(execution_id: str) -> IdempotencyKeyReused:
    """The 422 of a key already standing for another request, for `execution_id`."""
    return IdempotencyKeyReused(
        f"this Idempotency-Key was already used for a different request (execution "
        f"{execution_id}); nothing new was started: send a new key to run this one",
        {"execution_id": execution_id},
    )
