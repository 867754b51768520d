"""Users (admin only): add with a new key shown once, list, revoke."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from orchestrator.api.context import caller, services
from orchestrator.api.schemas import (
    ERRORS,
    CreateUser,
    ErrorOut,
    NewUserOut,
    UserListOut,
    UserOut,
    documented,
)
from orchestrator.domain.models import UserSummary

router = Router()
ADMIN_ONLY: dict[int, OpenAPIResponse] = {403: documented(ErrorOut, "not an admin")}


def _user(summary: UserSummary) -> dict[str, Any]:
    data = asdict(summary)
    data["role"] = summary.role.value
    return data


@router.post(
    "/users",
    status_code=201,
    summary="Add a user; the response carries their API key, shown once",
    tags=["users"],
    responses={
        201: documented(NewUserOut, "created"),
        409: documented(ErrorOut, "the user already has an active key"),
        **ADMIN_ONLY,
        **ERRORS,
    },
)
def create_user(body: Annotated[CreateUser, Body()]) -> dict[str, Any]:
    issued = services().users.create_user(caller(), body.email, body.role)
    return {
        "email": issued.record.user_email,
        "role": issued.record.role.value,
        "created_at": issued.record.created_at,
        "api_key": issued.api_key,
    }


@router.get(
    "/users",
    summary="Users, roles, created, revoked, last used",
    tags=["users"],
    responses={200: documented(UserListOut, "every user"), **ADMIN_ONLY, **ERRORS},
)
def list_users() -> dict[str, Any]:
    return {"items": [_user(u) for u in services().users.list_users(caller())]}


@router.delete(
    "/users/<email>",
    summary="Revoke every key of a user",
    tags=["users"],
    responses={
        200: documented(UserOut, "the user, now revoked"),
        404: documented(ErrorOut, "no such user"),
        **ADMIN_ONLY,
        **ERRORS,
    },
)
def revoke_user(email: Annotated[str, Path(max_length=254)]) -> dict[str, Any]:
    return _user(services().users.revoke_user(caller(), email))
