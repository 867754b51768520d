"""Images on AWS: the Images table (partition key `name`), and each image's own ECS task
definition, a clone of the stack's run task definition with the command container's
image, the task role and the size replaced (the run agent stays), registered with the
image, registered again when the run task definition it was cloned from is no longer the
stack's (an upgrade), and deregistered when it is removed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import error_code
from orchestrator.adapters.aws.dynamodb import (
    from_item,
    is_condition_failure,
    to_attribute,
    to_item,
)
from orchestrator.agent.layout import COMMAND_CONTAINER
from orchestrator.domain.errors import Conflict, ValidationFailed
from orchestrator.domain.models import Image
from orchestrator.domain.warm_tasks import DEFAULT_WARM_IDLE_SECONDS

logger = logging.getLogger(__name__)
# What DescribeTaskDefinition returns that RegisterTaskDefinition does not take.
_DESCRIBED_ONLY = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
)


class DynamoImageStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def create(self, image: Image) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(image.to_dict()),
                ConditionExpression="attribute_not_exists(#name)",
                ExpressionAttributeNames={"#name": "name"},
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise Conflict(
                    f"image {image.name} already exists", {"name": image.name}
                ) from error
            raise

    def get(self, name: str) -> Image | None:
        response = self._client.get_item(
            TableName=self._table, Key={"name": {"S": name}}, ConsistentRead=True
        )
        return _image(response["Item"]) if "Item" in response else None

    def list_all(self) -> list[Image]:
        # A handful of items, registered by admins: a scan is the whole table.
        images: list[Image] = []
        request: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
        while True:
            response = self._client.scan(**request)
            images += [_image(item) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return sorted(images, key=lambda image: image.name)
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete(self, name: str) -> bool:
        response = self._client.delete_item(
            TableName=self._table, Key={"name": {"S": name}}, ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    def set_default(self, name: str) -> None:
        for image in self.list_all():
            if image.is_default != (image.name == name):
                try:
                    self._client.update_item(
                        TableName=self._table,
                        Key={"name": {"S": image.name}},
                        UpdateExpression="SET is_default = :default",
                        ConditionExpression="attribute_exists(#name)",
                        ExpressionAttributeNames={"#name": "name"},
                        ExpressionAttributeValues={":default": {"BOOL": image.name == name}},
                    )
                except ClientError as error:
                    if not is_condition_failure(error):  # removed meanwhile: nothing to mark
                        raise

    def replace_platform(self, current: Image, fresh: Image) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"name": {"S": current.name}},
                UpdateExpression="SET platform_ref = :fresh, platform_base = :base",
                ConditionExpression="platform_ref = :current",
                ExpressionAttributeValues={
                    ":fresh": to_attribute(fresh.platform_ref),
                    ":base": to_attribute(fresh.platform_base),
                    ":current": to_attribute(current.platform_ref),
                },
            )
        except ClientError as error:
            if is_condition_failure(error):  # made again meanwhile, or removed
                return False
            raise
        return True

    def update_pool(
        self, name: str, *, warm: int | None, warm_idle_seconds: int | None
    ) -> Image | None:
        given = {"warm": warm, "warm_idle_seconds": warm_idle_seconds}
        fields = {field: value for field, value in given.items() if value is not None}
        if not fields:
            return self.get(name)
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"name": {"S": name}},
                UpdateExpression="SET " + ", ".join(f"{field} = :{field}" for field in fields),
                # An image removed meanwhile stays removed: no item is made from the update.
                ConditionExpression="attribute_exists(#name)",
                ExpressionAttributeNames={"#name": "name"},
                ExpressionAttributeValues={f":{f}": {"N": str(v)} for f, v in fields.items()},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        return _image(response["Attributes"])


def _image(item: dict[str, Any]) -> Image:
    data = from_item(item)
    fields: dict[str, Any] = {name: data.get(name) for name in Image.__dataclass_fields__}
    fields["is_default"] = bool(data.get("is_default", False))
    fields["secrets"] = tuple(data.get("secrets") or ())
    fields["description"] = data.get("description") or ""
    # Images registered before warm pools have neither attribute.
    fields["warm"] = int(data.get("warm") or 0)
    fields["warm_idle_seconds"] = int(data.get("warm_idle_seconds") or DEFAULT_WARM_IDLE_SECONDS)
    return Image(**fields)


class EcsImagePlatform:
    """Each image gets the task definition family `<prefix>-<image name>`: the run task
    definition (DescribeTaskDefinition) with the command container's image, the task role,
    cpu and memory replaced. The image records the run task definition it was made from
    (`platform_base`); one made from another is out of date."""

    def __init__(self, ecs: Any, *, run_task_definition: str, family_prefix: str) -> None:
        self._ecs = ecs
        self._run_task_definition = run_task_definition
        self._family_prefix = family_prefix

    def family_of(self, image: Image) -> str:
        return f"{self._family_prefix}-{image.name}"[:255]

    def register(self, image: Image) -> Image:
        described = self._ecs.describe_task_definition(taskDefinition=self._run_task_definition)
        definition = {
            key: value
            for key, value in described["taskDefinition"].items()
            if key not in _DESCRIBED_ONLY
        }
        containers = [
            {**container, "image": image.uri}
            if container["name"] == COMMAND_CONTAINER
            else container
            for container in definition["containerDefinitions"]
        ]
        definition |= {
            "family": self.family_of(image),
            "containerDefinitions": containers,
            "cpu": str(image.cpu),
            "memory": str(image.memory),
        }
        if image.task_role_arn:
            definition["taskRoleArn"] = image.task_role_arn
        try:
            response = self._ecs.register_task_definition(**definition)
        except ClientError as error:
            if error_code(error) in ("ClientException", "InvalidParameterException"):
                message = error.response.get("Error", {}).get("Message") or str(error)
                raise ValidationFailed(f"ECS refused the image: {message}") from error
            raise
        arn: str = response["taskDefinition"]["taskDefinitionArn"]
        return replace(image, platform_ref=arn, platform_base=self._run_task_definition)

    def is_current(self, image: Image) -> bool:
        # The functions' environment names the run task definition of the deployed stack.
        return image.platform_base == self._run_task_definition

    def warnings(self, image: Image) -> list[str]:
        """None: on AWS an image is pulled and sized as registered."""
        return []

    def pool_warnings(self, image: Image) -> list[str]:
        """None: on AWS the pool is kept as set."""
        return []

    def unregister(self, image: Image) -> None:
        if not image.platform_ref:
            return
        if family_of_arn(image.platform_ref) != self.family_of(image):
            # IAM cannot scope DeregisterTaskDefinition (it authorizes on "*" only): this
            # adapter deregisters nothing but this stack's image families.
            logger.warning("not deregistering %s: not image %s's", image.platform_ref, image.name)
            return
        try:
            self._ecs.deregister_task_definition(taskDefinition=image.platform_ref)
        except ClientError as error:
            # Already gone (or inactive): what we wanted. Anything else is worth a log line,
            # not a failed removal: the image's record is gone already.
            logger.warning(
                "could not deregister %s: %s", image.platform_ref, error_code(error) or error
            )

    def deregister_all(self, execution_role_arn: str) -> list[str]:
        """On the stack's deletion: deregister every ACTIVE task definition of its image
        families; returns their ARNs. Only clones of this stack's run task definition (they
        carry its execution role): another stack's family whose name merely starts the same
        way is left alone."""
        deregistered: list[str] = []
        for arn in self._active_image_definitions():
            definition = self._ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            if definition.get("status") != "ACTIVE":
                continue
            if definition.get("executionRoleArn") != execution_role_arn:
                logger.warning("not deregistering %s: not this stack's", arn)
                continue
            try:
                self._ecs.deregister_task_definition(taskDefinition=arn)
            except ClientError as error:
                logger.warning("could not deregister %s: %s", arn, error_code(error) or error)
                continue
            deregistered.append(arn)
        return deregistered

    def _active_image_definitions(self) -> Iterator[str]:
        # ListTaskDefinitions' familyPrefix is a whole family name; the families' listing
        # takes a prefix.
        families = self._ecs.get_paginator("list_task_definition_families").paginate(
            familyPrefix=f"{self._family_prefix}-", status="ACTIVE"
        )
        for family in (family for page in families for family in page["families"]):
            definitions = self._ecs.get_paginator("list_task_definitions").paginate(
                familyPrefix=family, status="ACTIVE"
            )
            for page in definitions:
                yield from page["taskDefinitionArns"]


def family_of_arn(arn: str) -> str:
    """`arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>` -> family."""
    return arn.rpartition("task-definition/")[2].rpartition(":")[0]
