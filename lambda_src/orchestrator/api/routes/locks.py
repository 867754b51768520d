"""Locks: who holds each one and who waits, holds taken and released by people, an admin's
release of a run's lock, and the history of holds and releases (docs/locks.md)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from orchestrator.api.context import caller, services
from orchestrator.api.lock_schemas import HoldLock, LockHistoryOut, LockListOut
from orchestrator.api.schemas import API_KEY, QUERY_INTEGER, LockHolderOut, Name, documented, errors
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.lock_history import DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT
from orchestrator.domain.models import LOCK_NAME_PATTERN, is_valid_lock_name

LOCK_NAME_RULE = "1-128 characters of letters, digits and . _ / -"
LockName = Annotated[
    Name, Path(max_length=400, description=f"{LOCK_NAME_RULE}; a / is sent as %2F")
]

router = Router()


def _checked(lock_name: str) -> str:
    # The resolver decoded the path value once (a "/" arrives as %2F).
    if not is_valid_lock_name(lock_name):
        raise ValidationFailed(
            f"invalid lock name {lock_name!r}: {LOCK_NAME_RULE}", {"pattern": LOCK_NAME_PATTERN}
        )
    return lock_name


@router.get(
    "/locks",
    summary="Every lock that is held or has waiters: its holder and its queue",
    tags=["locks"],
    security=API_KEY,
    responses={200: documented(LockListOut, "the locks, by name"), **errors(400, 401)},
)
def list_locks() -> dict[str, Any]:
    return {"locks": [view.to_dict() for view in services().locks.picture()]}


@router.post(
    "/locks/<lock_name>/hold",
    status_code=201,
    summary="Hold a lock with no run, with a reason, for a while (any user)",
    description="Runs that need the lock are refused (409 lock_held naming the hold, its "
    "reason and its end) or, with wait_lock_seconds, queue behind it. The hold ends when "
    "its holder or an admin releases it (DELETE /locks/{lock_name}) or when `seconds` pass.",
    tags=["locks"],
    security=API_KEY,
    responses={
        201: documented(LockHolderOut, "the hold"),
        **errors(
            400,
            401,
            409,
            413,
            415,
            e409="lock_held: the lock is taken (details name the holder, as for a run)",
        ),
    },
)
def hold_lock(lock_name: LockName, body: Annotated[HoldLock, Body()]) -> dict[str, Any]:
    holder = services().locks.hold(caller(), _checked(lock_name), body.reason, body.seconds)
    return holder.to_dict()


@router.delete(
    "/locks/<lock_name>",
    summary="Release a lock: a hold (its holder or an admin) or a run's lock (admin)",
    description="A run's lock released by an admin is recorded on the run "
    "(lock_released_by). After the release the lock's queue moves on.",
    tags=["locks"],
    security=API_KEY,
    responses={
        200: documented(LockHolderOut, "the holder the lock was released from"),
        **errors(
            400,
            401,
            403,
            404,
            e403="a run's lock and the caller is not an admin, or someone else's hold",
            e404="the lock is not held",
        ),
    },
)
def release_lock(lock_name: LockName) -> dict[str, Any]:
    return services().locks.release(caller(), _checked(lock_name)).to_dict()


@router.get(
    "/lock-history",
    summary="Holds taken, released and expired, and runs' locks released by admins",
    tags=["locks"],
    security=API_KEY,
    responses={200: documented(LockHistoryOut, "one page, newest first"), **errors(400, 401)},
)
def lock_history(
    lock_name: Annotated[
        Name | None, Query(max_length=400, description="only this lock's history")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_HISTORY_LIMIT), QUERY_INTEGER] = DEFAULT_HISTORY_LIMIT,
    cursor: Annotated[
        Name | None,
        Query(max_length=1024, description="next_cursor of the previous page, passed back as is"),
    ] = None,
) -> dict[str, Any]:
    page = services().locks.history(
        _checked(lock_name) if lock_name is not None else None, limit, cursor
    )
    return {"items": [event.to_dict() for event in page.items], "next_cursor": page.next_cursor}
