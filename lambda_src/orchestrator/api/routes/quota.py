"""GET /quota: the running-execution limits and how many the caller (or, for an admin, the
platform) has running."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.context import caller, services
from orchestrator.api.schemas import API_KEY, ERRORS, documented

router = Router()


class QuotaOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    max_running_per_user: int = Field(description="running executions allowed per user")
    max_running_total: int = Field(description="running executions allowed on the platform")
    running: int = Field(description="the caller's executions that are not finished")
    total_running: int | None = Field(
        description="every user's executions that are not finished (admins; null otherwise)"
    )


@router.get(
    "/quota",
    summary="Running-execution limits and counts",
    description="A new execution over either limit is refused with 429 too_many_executions.",
    tags=["executions"],
    security=API_KEY,
    responses={200: documented(QuotaOut, "the limits and the running counts"), **ERRORS},
)
def quota() -> dict[str, Any]:
    return services().executions.quota(caller()).to_dict()
