"""What each function's role may do, from its Access (stacks/access.py): the tables, the
executor's tasks, the CodeBucket (bucket_grants.py), the env key, the secrets and warm
pools (the mailbox signer, the pool manager). Images' task definitions are
image_grants.py's."""

from __future__ import annotations

from aws_cdk import Stack

from orchestrator.adapters.aws.kms_queued_env import PURPOSE as QUEUED_ENV_PURPOSE
from orchestrator.adapters.aws.ssm_secrets import METADATA as SECRET_METADATA
from orchestrator.adapters.aws.ssm_secrets import VALUES as SECRET_VALUES
from stacks.access import Access
from stacks.bucket_grants import grant_code_bucket
from stacks.data import WARM_TASKS_INDEX, DataStore
from stacks.executor import Executor
from stacks.functions import PythonFunction
from stacks.image_grants import ImageGrants
from stacks.warm_pools import WarmPoolIdentity


class FunctionGrants:
    def __init__(
        self,
        stack: Stack,
        *,
        data: DataStore,
        executor: Executor,
        image_grants: ImageGrants,
        image_role_arn_prefix: str,
        image_family_prefix: str,
        secrets_path: str,
        warm_pools: WarmPoolIdentity,
    ) -> None:
        self._stack = stack
        self._data = data
        self._executor = executor
        self._image_grants = image_grants
        self._image_role_arn_prefix = image_role_arn_prefix
        self._image_family_prefix = image_family_prefix
        self._secrets_path = secrets_path
        self._warm_pools = warm_pools

    def grant(self, function: PythonFunction, access: Access) -> None:
        self._grant_tables(function, access)
        self._grant_tasks(function, access)
        grant_code_bucket(function, access, self._data.code_bucket)
        self._grant_env_key(function, access)
        self._grant_secrets(function, access)
        self._grant_warm_pools(function, access)

    def _grant_tables(self, function: PythonFunction, access: Access) -> None:
        data = self._data
        for table, actions in (
            (data.api_keys, access.api_keys),
            (data.executions, access.executions),
            (data.locks, access.locks),
            (data.lock_queue, access.lock_queue),
            (data.warm_tasks, access.warm_tasks),
        ):
            if actions:
                function.allow(list(actions), [table.table_arn])
        if access.api_keys_by_email:
            function.allow(
                ["dynamodb:Query"], [f"{data.api_keys.table_arn}/index/user_email-index"]
            )
        if access.count_warm_tasks:
            function.allow(
                ["dynamodb:Query"], [f"{data.warm_tasks.table_arn}/index/{WARM_TASKS_INDEX}"]
            )
        if access.execution_indexes:
            function.allow(
                ["dynamodb:Query"],
                [f"{data.executions.table_arn}/index/{name}" for name in access.execution_indexes],
            )

    def _grant_tasks(self, function: PythonFunction, access: Access) -> None:
        executor = self._executor
        if access.run_tasks:
            function.allow(
                ["ecs:RunTask"],
                [
                    executor.task_definition.task_definition_arn,
                    self._stack.format_arn(
                        service="ecs",
                        resource="task-definition",
                        resource_name=f"{self._image_family_prefix}-*",
                    ),
                ],
                ArnEquals={"ecs:cluster": executor.cluster.cluster_arn},
            )
            function.allow(
                ["ecs:TagResource"],
                [executor.task_arn_pattern],
                StringEquals={"ecs:CreateAction": "RunTask"},
            )
            self._image_grants.pass_roles(function)
        task_actions = [
            action
            for action, wanted in (
                ("ecs:StopTask", access.stop_tasks),
                ("ecs:DescribeTasks", access.describe_tasks),
            )
            if wanted
        ]
        if task_actions:
            function.allow(
                task_actions,
                [executor.task_arn_pattern],
                ArnEquals={"ecs:cluster": executor.cluster.cluster_arn},
            )
        if access.list_tasks:
            # ListTasks authorizes on Resource "*" (Fargate tasks have no container
            # instance); the condition limits it to the executor cluster.
            function.allow(
                ["ecs:ListTasks"],
                ["*"],
                ArnEquals={"ecs:cluster": self._executor.cluster.cluster_arn},
            )

    def _grant_env_key(self, function: PythonFunction, access: Access) -> None:
        executor = self._executor
        key = executor.env_key.key_arn
        if access.seal_env:
            function.allow(["kms:Encrypt"], [key])
            # Grants that let the task role decrypt one execution's env, nothing else.
            function.allow(
                ["kms:CreateGrant"],
                [key],
                StringEquals={
                    "kms:GranteePrincipal": executor.task_role.role_arn,
                    "kms:GrantConstraintType": "EncryptionContextEquals",
                },
                **{"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt"]}},
            )
            # The same for a run on an image with its own task role (under the prefix).
            function.allow(
                ["kms:CreateGrant"],
                [key],
                StringLike={"kms:GranteePrincipal": f"{self._image_role_arn_prefix}*"},
                StringEquals={"kms:GrantConstraintType": "EncryptionContextEquals"},
                **{"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt"]}},
            )
        if access.unseal_queued_env:
            # Only what was sealed for the queue: a run's task values (context: its
            # execution alone) stay closed to every function.
            function.allow(
                ["kms:Decrypt"],
                [key],
                StringEquals={"kms:EncryptionContext:purpose": QUEUED_ENV_PURPOSE},
            )
        # Runs' grants, revoked by the server (a failed launch, a run's end) and swept.
        if access.revoke_grants:
            function.allow(["kms:RevokeGrant"], [key])
        if access.list_grants:
            function.allow(["kms:ListGrants"], [key])

    def _parameter_arn(self, name: str) -> str:
        stack = self._stack
        return f"arn:{stack.partition}:ssm:{stack.region}:{stack.account}:parameter{name}"

    def _grant_secrets(self, function: PythonFunction, access: Access) -> None:
        """SSM on this stack's secrets path only; the secrets key only through SSM, only for
        parameters under that path (SSM puts the parameter's ARN in the encryption context)."""
        path = self._secrets_path
        values = self._parameter_arn(f"{path}{SECRET_VALUES}*")
        metadata = self._parameter_arn(f"{path}{SECRET_METADATA}*")
        through_ssm = {
            "StringEquals": {"kms:ViaService": f"ssm.{self._stack.region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": values},
        }
        key = self._executor.secrets_key.key_arn
        if access.write_secrets:
            function.allow(["ssm:PutParameter"], [values, metadata])
            # Rolls back a new value whose metadata could not be written (ssm_secrets.py).
            function.allow(["ssm:DeleteParameter"], [values])
            function.allow(["kms:Encrypt", "kms:GenerateDataKey"], [key], **through_ssm)
        if access.list_secrets:
            function.allow(
                ["ssm:GetParametersByPath"],
                [self._parameter_arn(f"{path}{SECRET_METADATA}".rstrip("/"))],
            )
        if access.delete_secrets:
            function.allow(["ssm:GetParameters"], [metadata])
            function.allow(["ssm:DeleteParameters"], [values, metadata])
        if access.read_secrets:
            function.allow(["ssm:GetParameters"], [values, metadata])
            function.allow(["kms:Decrypt"], [key], **through_ssm)

    def _grant_warm_pools(self, function: PythonFunction, access: Access) -> None:
        warm_pools = self._warm_pools
        if access.sign_mailboxes:
            function.allow(["sts:AssumeRole"], [warm_pools.mailbox_signer.role_arn])
        if access.invoke_pool_manager:
            function.allow(["lambda:InvokeFunction"], [warm_pools.function_arn])
