"""The mycli stack: data, executor, API and events, each function granted only what its
route does, and outputs with stable names (read by `mycli init`)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct

from orchestrator.adapters.aws.ssm_secrets import METADATA as SECRET_METADATA
from orchestrator.adapters.aws.ssm_secrets import VALUES as SECRET_VALUES
from orchestrator.adapters.aws.task_layout import RUNS_PREFIX, UPLOADS_PREFIX
from orchestrator.handlers.catalog import ASSET_EXCLUDES
from stacks.access import FUNCTION_ACCESS
from stacks.api import RestApi
from stacks.bucket_grants import MAILBOX_KEYS, MANIFEST_KEYS, OUTPUT_KEYS, RESULT_KEYS
from stacks.config import PlatformConfig
from stacks.data import DataStore
from stacks.events import LifecycleEvents
from stacks.executor import Executor
from stacks.function_grants import FunctionGrants
from stacks.functions import PythonFunction
from stacks.image_grants import ImageGrants, deregister_on_delete
from stacks.run_task import LAMBDA_SOURCE, LOG_STREAM_PREFIX
from stacks.warm_pools import WarmPoolIdentity

# Powertools' public layer account (every commercial region); the version is pinned by
# mycli:powertoolsLayerVersion.
POWERTOOLS_LAYER = "017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64"

OUTPUTS = (
    "ApiUrl",
    "ApiKeysTableName",
    "ExecutionsTableName",
    "LocksTableName",
    "LockQueueTableName",
    "CodeBucketName",
    "ClusterName",
    "WarmTasksTableName",
)


class MycliStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = PlatformConfig.from_context(self.node.try_get_context)
        self.data = DataStore(self, "Data", config=self.config)
        self.executor = Executor(self, "Executor", config=self.config)
        self.warm_pools = WarmPoolIdentity(self, "WarmPools", code_bucket=self.data.code_bucket)
        self.image_grants = ImageGrants(
            executor=self.executor,
            images_table=self.data.images,
            role_arn_prefix=self._image_role_arn_prefix,
        )
        self.grants = FunctionGrants(
            self,
            data=self.data,
            executor=self.executor,
            image_grants=self.image_grants,
            image_role_arn_prefix=self._image_role_arn_prefix,
            image_family_prefix=self._image_family_prefix,
            secrets_path=self.secrets_path,
            warm_pools=self.warm_pools,
        )
        self._code = lambda_.Code.from_asset(str(LAMBDA_SOURCE), exclude=list(ASSET_EXCLUDES))
        self._powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            f"arn:{self.partition}:lambda:{self.region}:{POWERTOOLS_LAYER}:"
            f"{self.config.powertools_layer_version}",
        )
        self.api = RestApi(self, "Api", config=self.config, make_function=self._function)
        self.task_events = self._function(
            "task_events", "ECS task state changes", retry_attempts=None
        )
        self.reaper = self._function(
            "reaper", "stop overdue tasks, settle lost ones", timeout=Duration.seconds(60)
        )
        self.warm_pool_manager = self._function(
            "warm_pool_manager",
            "keep images' warm pools: start, stop and record warm tasks",
            timeout=Duration.seconds(60),
            role=self.warm_pools.manager_role,
            function_name=self.warm_pools.function_name,
        )
        self.events = LifecycleEvents(
            self,
            "Events",
            cluster=self.executor.cluster,
            task_events=self.task_events,
            reaper=self.reaper,
            warm_pool_manager=self.warm_pool_manager,
            alarm_topic_arn=self.config.alarm_topic_arn,
        )
        self.destroy_images = self._function(
            "destroy_images",
            "on the stack's deletion, deregister its images' task definitions",
            timeout=Duration.minutes(5),
        )
        self.image_definitions = deregister_on_delete(
            self, "ImageDefinitions", function=self.destroy_images, executor=self.executor
        )
        self._build_outputs()
        self._acknowledge()

    def _environment(self) -> dict[str, str]:
        executor = self.executor
        return {
            "API_KEYS_TABLE": self.data.api_keys.table_name,
            "EXECUTIONS_TABLE": self.data.executions.table_name,
            "LOCKS_TABLE": self.data.locks.table_name,
            "LOCK_QUEUE_TABLE": self.data.lock_queue.table_name,
            "CODE_BUCKET": self.data.code_bucket.bucket_name,
            "ENV_KEY_ARN": executor.env_key.key_arn,
            "TASK_ROLE_ARN": executor.task_role.role_arn,
            "CLUSTER_ARN": executor.cluster.cluster_arn,
            "TASK_DEFINITION_ARN": executor.task_definition.task_definition_arn,
            "MAX_UPLOAD_BYTES": str(self.config.max_upload_mib * 1024 * 1024),
            "SUBNET_IDS": ",".join(executor.subnet_ids),
            "SECURITY_GROUP_IDS": executor.security_group.security_group_id,
            "LOG_GROUP_NAME": executor.log_group.log_group_name,
            "LOG_STREAM_PREFIX": LOG_STREAM_PREFIX,
            "DEFAULT_TIMEOUT_SECONDS": str(self.config.default_timeout_seconds),
            "MAX_TIMEOUT_SECONDS": str(self.config.max_timeout_seconds),
            "MAX_RUNNING_PER_USER": str(self.config.max_running_per_user),
            "MAX_RUNNING_TOTAL": str(self.config.max_running_total),
            "MAX_LOG_BYTES": str(self.config.max_log_mib * 1024 * 1024),
            "IMAGES_TABLE": self.data.images.table_name,
            "IMAGE_ROLE_ARN_PREFIX": self._image_role_arn_prefix,
            "IMAGE_FAMILY_PREFIX": self._image_family_prefix,
            "ECR_REPOSITORY_ARN_PREFIX": executor.ecr_repository_arn_prefix,
            "SECRETS_PATH": self.secrets_path,
            "SECRETS_KEY_ARN": executor.secrets_key.key_arn,
            "POWERTOOLS_SERVICE_NAME": "mycli",
            "POWERTOOLS_METRICS_NAMESPACE": "mycli",
            # pydantic would scan every installed distribution for plugins on a cold start.
            "PYDANTIC_DISABLE_PLUGINS": "__all__",
            "WARM_TASKS_TABLE": self.data.warm_tasks.table_name,
            "WARM_BUDGET": str(self.config.warm_budget),
            "WARM_POOL_FUNCTION": self.warm_pools.function_name,
            "MAILBOX_SIGNER_ROLE_ARN": self.warm_pools.mailbox_signer.role_arn,
        }

    @property
    def _image_role_arn_prefix(self) -> str:
        """The roles images may carry (mycli:imageRolePrefix), as an ARN prefix."""
        return f"arn:{self.partition}:iam::{self.account}:role/{self.config.image_role_prefix}"

    @property
    def _image_family_prefix(self) -> str:
        """Images' task definition families: `<stack name>-image-<image name>`."""
        return f"{self.stack_name}-image"

    def _function(
        self,
        module: str,
        description: str,
        timeout: Duration | None = None,
        retry_attempts: int | None = 0,
        role: iam.Role | None = None,
        function_name: str | None = None,
    ) -> PythonFunction:
        function = PythonFunction(
            self,
            "".join(part.title() for part in module.split("_")),
            handler=f"orchestrator.handlers.{module}.handler",
            description=description,
            code=self._code,
            layers=[self._powertools],
            environment=self._environment(),
            config=self.config,
            timeout=timeout,
            retry_attempts=retry_attempts,
            role=role,
            function_name=function_name,
        )
        self.grants.grant(function, FUNCTION_ACCESS[module])
        self.image_grants.grant(function, FUNCTION_ACCESS[module])
        return function

    @property
    def secrets_path(self) -> str:
        """The SSM parameter path this stack's secrets live under (values and metadata)."""
        return f"/mycli/{self.stack_name}/"

    def _build_outputs(self) -> None:
        values = {
            "ApiUrl": self.api.url,
            "ApiKeysTableName": self.data.api_keys.table_name,
            "ExecutionsTableName": self.data.executions.table_name,
            "LocksTableName": self.data.locks.table_name,
            "LockQueueTableName": self.data.lock_queue.table_name,
            "CodeBucketName": self.data.code_bucket.bucket_name,
            "ClusterName": self.executor.cluster.cluster_name,
            "WarmTasksTableName": self.data.warm_tasks.table_name,
        }
        for name in OUTPUTS:
            CfnOutput(self, name, value=values[name])

    def _ref(self, construct: IConstruct, name: str, attribute: str = "") -> str:
        """How cdk-nag prints a resource: `<LogicalId>` (or `<LogicalId.Arn>`) for one this
        stack owns, the plain name for one reattached by name."""
        resource = construct.node.default_child
        if not isinstance(resource, CfnElement):
            return name
        return f"<{self.get_logical_id(resource)}{attribute}>"

    def _acknowledge(self) -> None:
        """Findings that cannot be fixed, one by one, each with its reason."""
        cluster = self._ref(self.executor.cluster, "")
        bucket = self._ref(self.data.code_bucket, "", ".Arn")
        if not bucket.startswith("<"):
            bucket = f"arn:<AWS::Partition>:s3:::{self.config.existing_code_bucket}"
        ecs_arn = "arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:"
        findings = [
            (
                "AwsSolutions-IAM5[Action::xray:PutTraceSegments]",
                "X-Ray accepts trace segments only on Resource *.",
            ),
            (
                "AwsSolutions-IAM5[Action::xray:PutTelemetryRecords]",
                "X-Ray accepts telemetry only on Resource *.",
            ),
            (
                "AwsSolutions-IAM5[Resource::*]",
                "Only the X-Ray actions above, ecs:ListTasks limited by its ecs:cluster "
                "condition to the executor cluster, the execution role's ecr:"
                "GetAuthorizationToken (ECR's login, * only; its pulls are scoped to "
                "repositories), and the images' Describe/Register/Deregister/"
                "ListTaskDefinition(s/Families) (which have no resource type: what a "
                "registration may carry is bounded by iam:PassRole, and the code deregisters "
                "only this stack's image families) use Resource *.",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:"
                f"<AWS::AccountId>:repository/{self.config.ecr_repository_prefix}*]",
                "Images are pushed by admins and registered at run time: the execution role "
                "may pull only from this account's repositories under the deployer's prefix "
                "(mycli:ecrRepositoryPrefix), in this region.",
            ),
            (
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/"
                f"{self.config.image_role_prefix}*]",
                "Images carry task roles an admin names at run time; PassRole is limited to "
                "the deployer's role prefix (mycli:imageRolePrefix) and to ECS tasks.",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{ecs_arn}task-definition/{self.stack_name}-image-*]",
                "Each image's task definition is registered at run time: RunTask is limited to "
                "this stack's image families, on the executor cluster.",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{ecs_arn}task/{cluster}/*]",
                "Task ids exist only once a task runs: stop, describe and tag are limited to "
                "tasks of the executor cluster.",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{bucket}/{UPLOADS_PREFIX}*]",
                "Upload keys are made per user and upload at run time: access is limited to "
                "the uploads/ prefix (PutObject to presign slots, GetObject to check uploads "
                "and presign the task's GET URLs).",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{bucket}/{RUNS_PREFIX}*]",
                "A run's manifest and output are keyed by its execution id, known only at run "
                "time: create writes under the runs/ prefix only (the manifest, and the output "
                "slot it signs, whose policy narrows it to the run's output prefix).",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{bucket}/{MANIFEST_KEYS}]",
                "create presigns the agent's GET of the run's manifest: runs/<id>/manifest.json.",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{bucket}/{OUTPUT_KEYS}]",
                "The logs route reads a run's output segments: runs/<id>/output/ only.",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{bucket}/{RESULT_KEYS}]",
                "Task events and the reaper read the run agent's result object, nothing else.",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{bucket}/{MAILBOX_KEYS}]",
                "A warm task's mailbox is keyed by its random id, picked when the task starts: "
                "the pool manager and the claimers write only under warm/ (the waiting mark, "
                "then the assignment), and the mailbox signer only reads there.",
            ),
            (
                "AwsSolutions-L1",
                "Python 3.12 matches the Powertools public layer this stack pins "
                f"({POWERTOOLS_LAYER}); move both together.",
            ),
        ]
        parameters = "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter"
        for kind in (SECRET_VALUES, SECRET_METADATA):
            findings.append(
                (
                    f"AwsSolutions-IAM5[Resource::{parameters}{self.secrets_path}{kind}*]",
                    "Secrets are named by admins at run time: SSM access is limited to this "
                    "stack's secrets path (values and their metadata).",
                )
            )
        for rule, reason in findings:
            Validations.of(self).acknowledge(Acknowledgment(id=rule, reason=reason))
