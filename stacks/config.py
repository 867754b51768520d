"""The stack's tunables, read from CDK context (cdk.json, or `-c mycli:key=value`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from aws_cdk import aws_logs as logs

CONTEXT_PREFIX = "mycli:"
ALPINE_3_20 = (
    "public.ecr.aws/docker/library/alpine:3.20"
    "@sha256:d9e853e87e55526f6b2917df91a2115c36dd7c696a35be12163d44e6e2a4b6bc"
)
# An image reference pinned by digest: `<repository>[:tag]@sha256:<64 hex>`.
PINNED_IMAGE = re.compile(r"[^\s@]+@sha256:[0-9a-f]{64}")
# A standard SNS topic's ARN (alarm actions take no FIFO topic).
SNS_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}")
# The start of ECR repository names (which are lowercase letters, digits, `._-/`).
ECR_PREFIX = re.compile(r"[a-z0-9][a-z0-9._/-]{0,199}")


class ConfigError(ValueError):
    """A context value the stack cannot use; the message names the key."""


@dataclass(frozen=True)
class PlatformConfig:
    # The command container's image: needs only `sh`, runs on ARM64, pinned by digest
    # (a multi-arch index: alpine 3.20 on public ECR, Docker's official-image mirror).
    executor_image: str = ALPINE_3_20
    task_cpu: int = 256
    task_memory_mib: int = 512
    default_timeout_seconds: int = 1800
    max_timeout_seconds: int = 86400
    log_retention_days: int = 30
    api_rate_limit: int = 20
    api_burst_limit: int = 40
    retain_data: bool = True
    max_upload_mib: int = 50
    # What one upload may unpack to in the task's unpack step (see orchestrator/unpack.py).
    max_unpacked_mib: int = 512
    max_upload_entries: int = 100_000
    # The Powertools public layer's exact version (AWSLambdaPowertoolsPythonV3-python312-arm64),
    # the same number in every commercial region: deploys of one commit never differ.
    powertools_layer_version: int = 27
    # API Gateway logs (access and errors) need an account-wide CloudWatch role per region:
    # "off" (default) logs nothing; "existing-role" uses the one the account already has;
    # "create-role" sets one (replacing any other in this region, kept after destroy).
    api_logging: str = "off"
    # Retained data of an earlier deployment, reattached instead of created (see README).
    existing_api_keys_table: str = ""
    existing_executions_table: str = ""
    existing_locks_table: str = ""
    existing_code_bucket: str = ""
    existing_execution_log_group: str = ""
    # 20 tasks of the default 0.25 vCPU stay within the smallest default Fargate vCPU quota.
    max_running_per_user: int = 10
    max_running_total: int = 20
    # Most output a run's log gives back (CloudWatch keeps it all until the retention).
    max_log_mib: int = 100
    # Task roles an image may carry: IAM role names (path included) starting with this.
    image_role_prefix: str = "mycli-task-"
    # ECR repositories (this account, this region) tasks may pull images from: names
    # starting with this. Public registries need nothing.
    ecr_repository_prefix: str = "mycli/"
    existing_images_table: str = ""
    existing_lock_queue_table: str = ""
    # An SNS topic the stack's alarms notify (its ARN); "" for none.
    alarm_topic_arn: str = ""
    # Most warm tasks (starting and ready) across every image's pool (docs/warm-runners.md);
    # 0 turns pools off.
    warm_budget: int = 10
    existing_warm_tasks_table: str = ""

    @classmethod
    def from_context(cls, lookup: Any) -> PlatformConfig:
        """`lookup(key)` is `node.try_get_context`; keys are `mycli:executorImage` etc."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            key = CONTEXT_PREFIX + _camel(field.name)
            raw = lookup(key)
            if raw is None:
                continue
            values[field.name] = _coerce(key, raw, type(getattr(cls, field.name)))
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if self.api_logging not in API_LOGGING:
            raise ConfigError(
                f"mycli:apiLogging must be one of {', '.join(API_LOGGING)}, "
                f"not {self.api_logging!r}"
            )
        if not 1 <= self.default_timeout_seconds <= self.max_timeout_seconds <= 86400:
            raise ConfigError(
                "need 1 <= mycli:defaultTimeoutSeconds <= mycli:maxTimeoutSeconds <= 86400"
            )
        if not 1 <= self.max_running_per_user <= self.max_running_total:
            raise ConfigError("need 1 <= mycli:maxRunningPerUser <= mycli:maxRunningTotal")
        if not 1 <= self.max_unpacked_mib <= 1024 * 1024:
            raise ConfigError("need 1 <= mycli:maxUnpackedMib <= 1048576")
        if not 1 <= self.max_upload_entries <= 10_000_000:
            raise ConfigError("need 1 <= mycli:maxUploadEntries <= 10000000")
        if not 0 <= self.warm_budget <= MAX_WARM_BUDGET:
            raise ConfigError(f"need 0 <= mycli:warmBudget <= {MAX_WARM_BUDGET}")
        if not 1 <= self.max_log_mib <= 1024 * 1024:
            raise ConfigError("need 1 <= mycli:maxLogMib <= 1048576")
        if not re.fullmatch(r"[A-Za-z0-9+=,.@_/-]{1,64}", self.image_role_prefix):
            raise ConfigError(
                "mycli:imageRolePrefix must be 1-64 characters of a role name or path "
                "(letters, digits, + = , . @ _ / -): an empty prefix would allow every role"
            )
        if not ECR_PREFIX.fullmatch(self.ecr_repository_prefix):
            raise ConfigError(
                "mycli:ecrRepositoryPrefix must be 1-200 characters of an ECR repository name "
                "(lowercase letters, digits, . _ - /), starting with a letter or digit: an "
                "empty prefix would allow every repository"
            )
        if not PINNED_IMAGE.fullmatch(self.executor_image):
            raise ConfigError(
                "mycli:executorImage must be pinned by digest (`repository[:tag]@sha256:...`), "
                f"not {self.executor_image!r}: a tag can move between two runs"
            )
        if self.alarm_topic_arn and not SNS_TOPIC_ARN.fullmatch(self.alarm_topic_arn):
            raise ConfigError(
                "mycli:alarmTopicArn must be an SNS topic's ARN "
                f"(arn:aws:sns:REGION:ACCOUNT:NAME), not {self.alarm_topic_arn!r}"
            )
        if self.log_retention_days not in _RETENTION:
            raise ConfigError(
                f"mycli:logRetentionDays must be one of {sorted(_RETENTION)}, "
                f"not {self.log_retention_days}"
            )

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION[self.log_retention_days]


API_LOGGING = ("off", "existing-role", "create-role")
# Fargate's default quota of running tasks per region is in the hundreds; a pool bigger
# than this is a typo (a warm task costs what a busy one does).
MAX_WARM_BUDGET = 500

_RETENTION: dict[int, logs.RetentionDays] = {
    days: getattr(logs.RetentionDays, name)
    for days, name in {
        1: "ONE_DAY",
        3: "THREE_DAYS",
        5: "FIVE_DAYS",
        7: "ONE_WEEK",
        14: "TWO_WEEKS",
        30: "ONE_MONTH",
        60: "TWO_MONTHS",
        90: "THREE_MONTHS",
        180: "SIX_MONTHS",
        365: "ONE_YEAR",
        731: "TWO_YEARS",
        1827: "FIVE_YEARS",
        3653: "TEN_YEARS",
    }.items()
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _coerce(key: str, raw: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "false"):
            return str(raw).lower() == "true"
        raise ConfigError(f"{key} must be true or false, not {raw!r}")
    try:
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} must be a {kind.__name__}, not {raw!r}") from exc
