"""GET /me: who the API key belongs to."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from orchestrator.api.context import caller
from orchestrator.api.schemas import API_KEY, MeOut, documented, errors

router = Router()


@router.get(
    "/me",
    summary="The caller's email and role",
    tags=["users"],
    security=API_KEY,
    responses={200: documented(MeOut, "the caller"), **errors(400, 401)},
)
def me() -> dict[str, str]:
    who = caller()
    return {"email": who.email, "role": who.role.value}
