"""Locks: list the active ones; an admin may force one free."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from orchestrator.api.context import caller, services
from orchestrator.api.schemas import API_KEY, LockListOut, LockOut, Name, documented, errors
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import LOCK_NAME_PATTERN, is_valid_lock_name

LOCK_NAME_RULE = "1-128 characters of letters, digits and . _ / -"

router = Router()


@router.get(
    "/locks",
    summary="Active (unexpired) locks",
    tags=["locks"],
    security=API_KEY,
    responses={200: documented(LockListOut, "the active locks"), **errors(400, 401)},
)
def list_locks() -> dict[str, Any]:
    return {"items": [lock.to_dict() for lock in services().locks.list_active()]}


@router.delete(
    "/locks/<lock_name>",
    summary="Force-release a lock (admin); recorded on the holder's execution",
    tags=["locks"],
    security=API_KEY,
    responses={
        200: documented(LockOut, "the lock that was released"),
        **errors(
            400,
            401,
            403,
            404,
            409,
            e404="no such lock",
            e409="the lock is changing hands; try again",
        ),
    },
)
def release_lock(
    lock_name: Annotated[
        Name, Path(max_length=400, description=f"{LOCK_NAME_RULE}; a / is sent as %2F")
    ],
) -> dict[str, Any]:
    # The resolver decoded the path value once (a "/" arrives as %2F).
    if not is_valid_lock_name(lock_name):
        raise ValidationFailed(
            f"invalid lock name {lock_name!r}: {LOCK_NAME_RULE}", {"pattern": LOCK_NAME_PATTERN}
        )
    return services().locks.force_release(caller(), lock_name).to_dict()
