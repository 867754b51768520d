"""POST /uploads: a slot to PUT a code archive to, then pass its id to POST /executions."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from orchestrator.api.context import caller, services
from orchestrator.api.schemas import API_KEY, UploadSlotOut, documented, errors

router = Router()


@router.post(
    "/uploads",
    status_code=201,
    summary="An upload slot: PUT a gzip tarball to its URL with its headers, before it expires",
    tags=["uploads"],
    security=API_KEY,
    responses={201: documented(UploadSlotOut, "the slot"), **errors(400, 401)},
)
def create_upload() -> dict[str, Any]:
    return services().uploads.open_slot(caller()).to_dict()
