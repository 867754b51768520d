"""Secrets (admin only): set, list, delete. No route ever returns a value."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from orchestrator.api.context import caller, services
from orchestrator.api.schemas import (
    API_KEY,
    PutSecret,
    SecretListOut,
    SecretOut,
    documented,
    errors,
)
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import SECRET_NAME_PATTERN
from orchestrator.domain.secrets import SecretService

router = Router()

SecretName = Annotated[str, Path(pattern=SECRET_NAME_PATTERN)]


def _secrets() -> SecretService:
    secrets = services().secrets
    if secrets is None:
        raise ValidationFailed("this server keeps no secrets")
    return secrets


@router.put(
    "/secrets/<name>",
    summary="Create or replace a secret (the value is never returned)",
    tags=["secrets"],
    security=API_KEY,
    responses={
        200: documented(SecretOut, "stored: its metadata"),
        **errors(400, 401, 403, 413, 415),
    },
)
def put_secret(name: SecretName, body: Annotated[PutSecret, Body()]) -> dict[str, Any]:
    secret = _secrets().set(caller(), name, body.value, body.description, body.images)
    return secret.to_dict()


@router.get(
    "/secrets",
    summary="Every secret's name, description, images, who set it and when; never values",
    tags=["secrets"],
    security=API_KEY,
    responses={200: documented(SecretListOut, "every secret"), **errors(400, 401, 403)},
)
def list_secrets() -> dict[str, Any]:
    return {"items": [secret.to_dict() for secret in _secrets().list(caller())]}


@router.delete(
    "/secrets/<name>",
    summary="Delete a secret (runs already started keep their copy)",
    tags=["secrets"],
    security=API_KEY,
    responses={
        200: documented(SecretOut, "deleted: its metadata"),
        **errors(400, 401, 403, 404, e404="no such secret"),
    },
)
def delete_secret(name: SecretName) -> dict[str, Any]:
    return _secrets().delete(caller(), name).to_dict()
