"""What the functions may do with images' task definitions (registered at run time, one
family `<stack name>-image-<name>` per image: adapters/aws/images.py), the roles they may
pass to them, and the custom resource that deregisters them when the stack is deleted
(CloudFormation does not know them: orchestrator/handlers/destroy_images.py)."""

from __future__ import annotations

from aws_cdk import CustomResource
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from stacks.access import Access
from stacks.executor import Executor
from stacks.functions import PythonFunction

# Register/Deregister/Describe/ListTaskDefinitions and ListTaskDefinitionFamilies authorize
# on Resource "*" only (the service authorization reference lists no resource type for
# them, and no condition key for Deregister).
# What bounds a registration is iam:PassRole; what bounds a deregistration is the code:
# it deregisters only this stack's image families (EcsImagePlatform).
TASK_DEFINITIONS = "*"


class ImageGrants:
    def __init__(
        self, *, executor: Executor, images_table: dynamodb.ITable, role_arn_prefix: str
    ) -> None:
        self._executor = executor
        self._images_table = images_table
        self._role_arn_prefix = role_arn_prefix

    def pass_roles(self, function: PythonFunction) -> None:
        """PassRole to ECS tasks only: the stack's task and execution roles, and the roles
        under the image role prefix (never `*`)."""
        executor = self._executor
        function.allow(
            ["iam:PassRole"],
            [
                executor.task_role.role_arn,
                executor.execution_role.role_arn,
                f"{self._role_arn_prefix}*",
            ],
            StringEquals={"iam:PassedToService": "ecs-tasks.amazonaws.com"},
        )

    def grant(self, function: PythonFunction, access: Access) -> None:
        if access.images:
            function.allow(list(access.images), [self._images_table.table_arn])
        if access.register_image_definitions:
            function.allow(
                ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"], [TASK_DEFINITIONS]
            )
            if not access.run_tasks:  # a function that runs tasks passes them already
                self.pass_roles(function)
        if access.list_image_definitions:
            function.allow(
                [
                    "ecs:ListTaskDefinitionFamilies",
                    "ecs:ListTaskDefinitions",
                    "ecs:DescribeTaskDefinition",
                ],
                [TASK_DEFINITIONS],
            )
        if access.deregister_image_definitions:
            function.allow(["ecs:DeregisterTaskDefinition"], [TASK_DEFINITIONS])


def deregister_on_delete(
    scope: Construct, construct_id: str, *, function: PythonFunction, executor: Executor
) -> CustomResource:
    """Custom::ImageDefinitions: its delete (the stack's deletion) deregisters the images'
    task definitions, telling them from other stacks' by this stack's execution role. It
    depends on the function and its policy, so CloudFormation deletes it before them."""
    resource = CustomResource(
        scope,
        construct_id,
        service_token=function.function.function_arn,
        resource_type="Custom::ImageDefinitions",
        properties={"ExecutionRoleArn": executor.execution_role.role_arn},
    )
    resource.node.add_dependency(function)
    return resource
