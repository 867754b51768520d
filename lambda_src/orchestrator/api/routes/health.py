"""GET /health: liveness, version and backend; the only route without a key."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from orchestrator import __version__
from orchestrator.api.context import services
from orchestrator.api.schemas import HealthOut, documented, errors

router = Router()


@router.get(
    "/health",
    summary="Liveness, version and backend (no key needed)",
    tags=["health"],
    responses={200: documented(HealthOut, "the platform answers"), **errors(400)},
)
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__, "backend": services().backend}
