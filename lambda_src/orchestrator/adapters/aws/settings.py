"""Configuration of a Lambda function, read once from its environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from orchestrator.domain.models import (
    DEFAULT_MAX_LOG_BYTES,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_TIMEOUT_SECONDS,
)
from orchestrator.domain.uploads import DEFAULT_MAX_UPLOAD_BYTES
from orchestrator.domain.warm_pools import DEFAULT_WARM_BUDGET

# The stack's defaults (stacks/config.py: mycli:maxRunningPerUser, mycli:maxRunningTotal).
AWS_MAX_RUNNING_PER_USER = 10
AWS_MAX_RUNNING_TOTAL = 20


class MissingSetting(RuntimeError):
    """A function was deployed without a variable its route needs."""


@dataclass(frozen=True)
class AwsSettings:
    api_keys_table: str = ""
    executions_table: str = ""
    locks_table: str = ""
    lock_queue_table: str = ""
    cluster: str = ""
    task_definition: str = ""  # the run task definition (the agent and the command)
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    log_group: str = ""  # the operators' copy (CloudWatch); runs' output is in S3
    log_stream_prefix: str = "exec"
    code_bucket: str = ""
    env_key: str = ""
    task_role_arn: str = ""
    default_timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    max_timeout_seconds: int = MAX_TIMEOUT_SECONDS
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_log_bytes: int = DEFAULT_MAX_LOG_BYTES
    max_running_per_user: int = AWS_MAX_RUNNING_PER_USER
    max_running_total: int = AWS_MAX_RUNNING_TOTAL
    images_table: str = ""
    warm_tasks_table: str = ""  # warm pools (docs/warm-runners.md); none: every run cold
    warm_budget: int = DEFAULT_WARM_BUDGET  # warm tasks across all pools (mycli:warmBudget)
    warm_pool_function: str = ""  # the pool manager, invoked to refill; none: the schedule only
    mailbox_signer_role_arn: str = ""  # assumed by the pool manager to sign mailbox URLs
    image_role_arn_prefix: str = ""  # task roles images may carry (mycli:imageRolePrefix)
    image_family_prefix: str = "mycli-image"  # images' task definition families
    # The ECR repositories tasks may pull from (mycli:ecrRepositoryPrefix), as an ARN prefix:
    # arn:aws:ecr:<region>:<account>:repository/<prefix>
    ecr_repository_arn_prefix: str = ""
    secrets_path: str = ""  # the stack's SSM parameter path, "/mycli/<stack>/"
    secrets_key: str = ""  # the KMS key of the SecureString secrets

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> AwsSettings:
        env = os.environ if environ is None else environ

        def listed(name: str) -> tuple[str, ...]:
            return tuple(part for part in env.get(name, "").split(",") if part)

        return cls(
            api_keys_table=env.get("API_KEYS_TABLE", ""),
            executions_table=env.get("EXECUTIONS_TABLE", ""),
            locks_table=env.get("LOCKS_TABLE", ""),
            lock_queue_table=env.get("LOCK_QUEUE_TABLE", ""),
            cluster=env.get("CLUSTER_ARN", ""),
            task_definition=env.get("TASK_DEFINITION_ARN", ""),
            subnets=listed("SUBNET_IDS"),
            security_groups=listed("SECURITY_GROUP_IDS"),
            log_group=env.get("LOG_GROUP_NAME", ""),
            log_stream_prefix=env.get("LOG_STREAM_PREFIX", "exec"),
            code_bucket=env.get("CODE_BUCKET", ""),
            env_key=env.get("ENV_KEY_ARN", ""),
            task_role_arn=env.get("TASK_ROLE_ARN", ""),
            default_timeout_seconds=int(
                env.get("DEFAULT_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
            ),
            max_timeout_seconds=int(env.get("MAX_TIMEOUT_SECONDS", MAX_TIMEOUT_SECONDS)),
            max_upload_bytes=int(env.get("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)),
            max_log_bytes=int(env.get("MAX_LOG_BYTES", DEFAULT_MAX_LOG_BYTES)),
            max_running_per_user=int(env.get("MAX_RUNNING_PER_USER", AWS_MAX_RUNNING_PER_USER)),
            max_running_total=int(env.get("MAX_RUNNING_TOTAL", AWS_MAX_RUNNING_TOTAL)),
            images_table=env.get("IMAGES_TABLE", ""),
            warm_tasks_table=env.get("WARM_TASKS_TABLE", ""),
            warm_budget=int(env.get("WARM_BUDGET", DEFAULT_WARM_BUDGET)),
            warm_pool_function=env.get("WARM_POOL_FUNCTION", ""),
            mailbox_signer_role_arn=env.get("MAILBOX_SIGNER_ROLE_ARN", ""),
            image_role_arn_prefix=env.get("IMAGE_ROLE_ARN_PREFIX", ""),
            image_family_prefix=env.get("IMAGE_FAMILY_PREFIX", "mycli-image"),
            ecr_repository_arn_prefix=env.get("ECR_REPOSITORY_ARN_PREFIX", ""),
            secrets_path=env.get("SECRETS_PATH", ""),
            secrets_key=env.get("SECRETS_KEY_ARN", ""),
        )

    def require(self, *names: str) -> None:
        """Fail with the missing variables' names, rather than deep inside a boto3 call."""
        missing = [name for name in names if not getattr(self, name)]
        if missing:
            raise MissingSetting(f"this function needs settings it was not given: {missing}")
