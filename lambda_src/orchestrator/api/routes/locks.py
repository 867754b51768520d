"""Locks: list the active ones; an admin may force one free."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from orchestrator.api.context import caller, services
from orchestrator.api.schemas import ERRORS, ErrorOut, LockListOut, LockOut, documented
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import LOCK_NAME_PATTERN, is_valid_lock_name

router = Router()


@router.get(
    "/locks",
    summary="Active (unexpired) locks",
    tags=["locks"],
    responses={200: documented(LockListOut, "the active locks"), **ERRORS},
)
def list_locks() -> dict[str, Any]:
    return {"items": [lock.to_dict() for lock in services().locks.list_active()]}


@router.delete(
    "/locks/<lock_name>",
    summary="Force-release a lock (admin); recorded on the holder's execution",
    tags=["locks"],
    responses={
        200: documented(LockOut, "the lock that was released"),
        403: documented(ErrorOut, "not an admin"),
        404: documented(ErrorOut, "no such lock"),
        **ERRORS,
    },
)
def release_lock(lock_name: Annotated[str, Path(max_length=400)]) -> dict[str, Any]:
    # Lock names may hold "/": clients send it as %2F, the resolver decoded it once.
    if not is_valid_lock_name(lock_name):
        raise ValidationFailed(f"invalid lock name {lock_name!r}", {"pattern": LOCK_NAME_PATTERN})
    return services().locks.force_release(caller(), lock_name).to_dict()
