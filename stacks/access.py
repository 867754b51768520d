"""What each function may do: exactly the calls its route makes, nothing more.

Every authenticated route reads the caller's key and records its last use (GetItem and
UpdateItem on APIKeys); the rest is per route."""

from __future__ import annotations

from dataclasses import dataclass

GET, PUT, UPDATE, DELETE = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
QUERY, SCAN = "dynamodb:Query", "dynamodb:Scan"
CONDITION_CHECK = "dynamodb:ConditionCheckItem"  # a transaction's check of another item
AUTHENTICATE = (GET, UPDATE)


@dataclass(frozen=True)
class Access:
    api_keys: tuple[str, ...] = AUTHENTICATE
    api_keys_by_email: bool = False  # Query on user_email-index
    executions: tuple[str, ...] = ()
    execution_indexes: tuple[str, ...] = ()  # Query on these indexes
    locks: tuple[str, ...] = ()
    run_tasks: bool = False
    stop_tasks: bool = False
    describe_tasks: bool = False
    read_output: bool = False  # runs' output in S3: ListBucket (runs/), GetObject (output)
    list_tasks: bool = False  # ecs:ListTasks: tasks started for an unrecorded execution
    read_run_results: bool = False  # the run agent's result object (runs/*/output/result)
    sign_upload_puts: bool = False  # s3:PutObject under uploads/, to presign slots
    check_uploads: bool = False  # s3:GetObject (HeadObject) under uploads/, to presign GETs
    # s3:PutObject under runs/ (the manifest; and the output slot: a presigned POST acts with
    # its signer's rights) and GetObject of the manifest (to presign the agent's GET).
    write_run_inputs: bool = False
    seal_env: bool = False  # kms:Encrypt with the env key, and per-execution grants
    images: tuple[str, ...] = ()  # actions on the Images table
    image_task_definitions: bool = False  # register/deregister images' task definitions
    write_secrets: bool = False  # ssm:PutParameter under the secrets path (SecureString)
    list_secrets: bool = False  # ssm:GetParametersByPath on the secrets' metadata
    delete_secrets: bool = False  # ssm:GetParameters, DeleteParameters under the path
    read_secrets: bool = False  # ssm:GetParameters (decrypted) under the path: a run's secrets


FUNCTION_ACCESS: dict[str, Access] = {
    "health": Access(api_keys=()),
    "console": Access(api_keys=()),  # static files only: no table, no key
    "me": Access(),
    "create_execution": Access(
        # One transaction records the execution, counts it (the quota counters, read with
        # GetItem) and checks its Idempotency-Key's marker (put, and deleted on a refusal).
        executions=(QUERY, GET, PUT, UPDATE, DELETE, CONDITION_CHECK),
        locks=(PUT, GET, DELETE),
        run_tasks=True,
        check_uploads=True,
        write_run_inputs=True,
        seal_env=True,
        images=(GET, SCAN),  # the run's image, or the default one
        read_secrets=True,
    ),
    "create_upload": Access(sign_upload_puts=True),
    "create_image": Access(images=(GET, PUT, SCAN, UPDATE), image_task_definitions=True),
    "list_images": Access(images=(SCAN,)),
    "delete_image": Access(images=(GET, DELETE), image_task_definitions=True),
    "quota": Access(executions=(GET,)),  # the quota counters
    "list_executions": Access(execution_indexes=("user_email-started_at", "status-started_at")),
    "get_execution": Access(executions=(QUERY,)),
    "get_execution_logs": Access(executions=(QUERY,), read_output=True),
    "cancel_execution": Access(executions=(QUERY, UPDATE), stop_tasks=True),
    "list_locks": Access(locks=(SCAN,)),
    "release_lock": Access(locks=(GET, DELETE), executions=(QUERY, UPDATE)),
    "create_user": Access(api_keys=(*AUTHENTICATE, PUT), api_keys_by_email=True),
    "list_users": Access(api_keys=(*AUTHENTICATE, SCAN)),
    "revoke_user": Access(api_keys_by_email=True),
    "put_secret": Access(write_secrets=True),
    "list_secrets": Access(list_secrets=True),
    "delete_secret": Access(delete_secrets=True),
    "task_events": Access(
        api_keys=(), executions=(QUERY, UPDATE), locks=(DELETE,), read_run_results=True
    ),
    "reaper": Access(
        api_keys=(),
        executions=(QUERY, UPDATE),
        execution_indexes=("status-started_at",),
        locks=(DELETE,),
        stop_tasks=True,
        describe_tasks=True,
        list_tasks=True,
        read_run_results=True,  # a task whose event was lost is settled from its result
    ),
}
