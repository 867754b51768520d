"""Images: admins register and remove them; every user lists them (task roles and the
backend's handle are shown to admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.api.context import caller, services
from orchestrator.api.schemas import API_KEY, Name, documented, errors
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.images import (
    MAX_CPU_UNITS,
    MAX_DESCRIPTION_LENGTH,
    MAX_IMAGE_SECRETS,
    MAX_MEMORY_MIB,
    MAX_URI_LENGTH,
    ROLE_ARN_PATTERN,
    ImageService,
    ImageSpec,
    is_default_secret,
)
from orchestrator.domain.models import IMAGE_NAME_PATTERN, Caller, Image
from orchestrator.domain.warm_tasks import (
    MAX_WARM_IDLE_SECONDS,
    MAX_WARM_PER_IMAGE,
    MIN_WARM_IDLE_SECONDS,
)

router = Router()

CpuUnits = Annotated[int | None, Field(default=None, ge=1, le=MAX_CPU_UNITS)]
MemoryMib = Annotated[int | None, Field(default=None, ge=1, le=MAX_MEMORY_MIB)]


class RegisterImage(BaseModel):
    """POST /images."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(pattern=IMAGE_NAME_PATTERN, description="lowercase letters, digits, _ -")
    uri: Name = Field(min_length=1, max_length=MAX_URI_LENGTH, description="container image URI")
    description: Name = Field(default="", max_length=MAX_DESCRIPTION_LENGTH)
    task_role_arn: str | None = Field(
        default=None,
        pattern=ROLE_ARN_PATTERN,
        description="IAM role the run's task gets (AWS: only under the deployment's "
        "mycli:imageRolePrefix); the stack's task role when omitted",
    )
    cpu: CpuUnits = Field(default=None, description="Fargate CPU units (default 256)")
    memory: MemoryMib = Field(default=None, description="MiB (default: the smallest for cpu)")
    max_cpu: CpuUnits = Field(default=None, description="largest cpu a run may ask (default cpu)")
    max_memory: MemoryMib = Field(
        default=None, description="largest memory a run may ask (default memory)"
    )
    default: bool = Field(default=False, description="runs without an image use this one")
    secrets: list[str] = Field(
        default_factory=list,
        max_length=MAX_IMAGE_SECRETS,
        description="secrets runs on this image get by default: NAME (as the env variable "
        "NAME) or VAR=NAME; a run's own --secret for the same variable wins",
    )
    warm: int = Field(
        default=0,
        ge=0,
        le=MAX_WARM_PER_IMAGE,
        description="AWS: tasks of this image kept started ahead, so a run of the image's "
        "own size starts in about a second (docs/warm-runners.md); recorded only on the "
        "embedded platform",
    )
    warm_idle_seconds: int | None = Field(
        default=None,
        ge=MIN_WARM_IDLE_SECONDS,
        le=MAX_WARM_IDLE_SECONDS,
        description="the pool scales to zero after this long without a run on the image, "
        "and starts again with the next run (default 3600)",
    )

    @field_validator("secrets")
    @classmethod
    def secret_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not is_default_secret(name):
                raise ValueError(
                    f"invalid default secret {name[:40]!r}: NAME or VAR=NAME (VAR an env "
                    "variable name, NAME 1-128 letters, digits, _ . -)"
                )
        return names


class UpdateImage(BaseModel):
    """PATCH /images/{name}: the warm pool; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid", strict=True)

    warm: int | None = Field(
        default=None,
        ge=0,
        le=MAX_WARM_PER_IMAGE,
        description="AWS: tasks of this image kept started ahead; 0 turns the pool off "
        "(its tasks are stopped within a minute); recorded only on the embedded platform",
    )
    warm_idle_seconds: int | None = Field(
        default=None,
        ge=MIN_WARM_IDLE_SECONDS,
        le=MAX_WARM_IDLE_SECONDS,
        description="the pool scales to zero after this long without a run on the image",
    )


class WarmPoolOut(BaseModel):
    target: int = Field(description="tasks kept started ahead, as registered")
    ready: int = Field(description="tasks waiting for a run (always 0 on the embedded platform)")
    starting: int = Field(description="tasks being started")


class ImageOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: str
    uri: str
    description: str
    cpu: int = Field(description="Fargate CPU units")
    memory: int = Field(description="MiB")
    max_cpu: int
    max_memory: int
    is_default: bool
    registered_by: str
    registered_at: str
    secrets: list[str] = Field(
        description="admins only: its default secrets, NAME or VAR=NAME (empty for other users)"
    )
    task_role_arn: str | None = Field(description="admins only (null for other users)")
    platform_ref: str | None = Field(
        description="admins only: the image's ECS task definition ARN (null locally)"
    )
    warm: WarmPoolOut = Field(description="the image's warm pool (docs/warm-runners.md)")
    warm_idle_seconds: int = Field(description="the pool scales to zero after this long idle")


class RegisteredImageOut(ImageOut):
    warnings: list[str] = Field(
        description="what the registration means on this backend that may surprise: the "
        "embedded platform runs commands on its host (the URI is not pulled; the size limits "
        "runs on the image, or every run for a default image; warm pools apply on AWS only); "
        "empty on AWS"
    )


class UpdatedImageOut(ImageOut):
    warnings: list[str] = Field(
        description="what the pool means on this backend that may surprise: on the embedded "
        "platform a pool above 0 is recorded but not kept (warm pools apply on AWS only); "
        "empty on AWS"
    )


class ImageListOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[ImageOut]


def _images() -> ImageService:
    images = services().images
    if images is None:
        raise ValidationFailed("this server has no images")
    return images


def _shown(image: Image, viewer: Caller, images: ImageService) -> dict[str, Any]:
    data = image.to_dict()
    data.pop("platform_base")  # the backend's bookkeeping (what platform_ref was made from)
    data["warm"] = images.pool(image).shown()
    if not viewer.is_admin:
        data["task_role_arn"] = None
        data["platform_ref"] = None
        data["secrets"] = []  # which secrets exist is admin knowledge, as GET /secrets is
    return data


@router.post(
    "/images",
    status_code=201,
    summary="Register an image (admin)",
    tags=["images"],
    security=API_KEY,
    responses={
        201: documented(RegisteredImageOut, "registered, with what it means here"),
        **errors(
            400,
            401,
            403,
            409,
            413,
            415,
            e400="invalid request: a bad name, URI or role, a size that is not a Fargate size "
            "(the message lists the valid ones), a role outside the allowed prefix, or an ECR "
            "image the stack's tasks cannot pull (details.allowed_prefix: where to push it)",
            e409="an image with this name exists",
        ),
    },
)
def register_image(body: Annotated[RegisterImage, Body()]) -> dict[str, Any]:
    spec = ImageSpec(
        name=body.name,
        uri=body.uri,
        description=body.description,
        task_role_arn=body.task_role_arn,
        cpu=body.cpu,
        memory=body.memory,
        max_cpu=body.max_cpu,
        max_memory=body.max_memory,
        is_default=body.default,
        secrets=tuple(body.secrets),
        warm=body.warm,
        warm_idle_seconds=body.warm_idle_seconds,
    )
    who = caller()
    images = _images()
    image = images.register(who, spec)
    return {**_shown(image, who, images), "warnings": images.warnings(image)}


@router.get(
    "/images",
    summary="Registered images, by name",
    tags=["images"],
    security=API_KEY,
    responses={200: documented(ImageListOut, "every image"), **errors(400, 401)},
)
def list_images() -> dict[str, Any]:
    who = caller()
    images = _images()
    return {"items": [_shown(image, who, images) for image in images.list()]}


@router.patch(
    "/images/<name>",
    summary="Change an image's warm pool (admin)",
    tags=["images"],
    security=API_KEY,
    responses={
        200: documented(UpdatedImageOut, "the image as it is now, with what it means here"),
        **errors(
            400,
            401,
            403,
            404,
            413,
            415,
            e400="invalid request: warm outside 0-50, warm_idle_seconds outside 60-604800, "
            "another field, or neither field given",
            e404="no such image",
        ),
    },
)
def update_image(
    name: Annotated[Name, Path(max_length=128)], body: Annotated[UpdateImage, Body()]
) -> dict[str, Any]:
    who = caller()
    images = _images()
    image = images.update(who, name, warm=body.warm, warm_idle_seconds=body.warm_idle_seconds)
    return {**_shown(image, who, images), "warnings": images.pool_warnings(image)}


@router.delete(
    "/images/<name>",
    summary="Remove an image (admin); runs already on it keep going",
    tags=["images"],
    security=API_KEY,
    responses={
        200: documented(ImageOut, "the image that was removed"),
        **errors(400, 401, 403, 404, e404="no such image"),
    },
)
def remove_image(name: Annotated[Name, Path(max_length=128)]) -> dict[str, Any]:
    who = caller()
    images = _images()
    return _shown(images.remove(who, name), who, images)
