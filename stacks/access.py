"""What each function may do: exactly the calls its route makes, nothing more.

Every authenticated route reads the caller's key and records its last use (GetItem and
UpdateItem on APIKeys); the rest is per route. A transaction (TransactWriteItems) needs the
per-item action of each of its parts on each table (PutItem, UpdateItem, DeleteItem,
ConditionCheckItem): IAM has no action of its own for it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

GET, PUT, UPDATE, DELETE = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
QUERY, SCAN = "dynamodb:Query", "dynamodb:Scan"
CONDITION_CHECK = "dynamodb:ConditionCheckItem"  # a transaction's check of another item
AUTHENTICATE = (GET, UPDATE)
# The LockQueue table (adapters/aws/dynamodb_lock_queue.py): a queue's entries are read with
# Query and GetItem; enqueue, leave and promotion write them (promotion, in one transaction
# with its PutItem on Locks); history items are put.
QUEUE_READ = (GET, QUERY)
QUEUE_WRITE = (GET, QUERY, PUT, UPDATE, DELETE)
# The WarmTasks table (adapters/aws/dynamodb_warm_pool.py): tasks and claim items are read
# with GetItem and Query (the image-state index), registered with PutItem and moved with
# UpdateItem (a claim: one transaction of an UpdateItem and a PutItem). Nothing deletes.
WARM_WRITE = (GET, QUERY, PUT, UPDATE)


@dataclass(frozen=True)
class Access:
    api_keys: tuple[str, ...] = AUTHENTICATE
    api_keys_by_email: bool = False  # Query on user_email-index
    executions: tuple[str, ...] = ()
    execution_indexes: tuple[str, ...] = ()  # Query on these indexes
    locks: tuple[str, ...] = ()
    lock_queue: tuple[str, ...] = ()  # actions on the LockQueue table (queues and history)
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
    # kms:Decrypt with the env key, only of values sealed while queued (encryption context
    # purpose "queued-env"): a promoted run's env, sealed again for its task on launch.
    unseal_queued_env: bool = False
    revoke_grants: bool = False  # kms:RevokeGrant on the env key: a run's, once it ended
    list_grants: bool = False  # kms:ListGrants on the env key: the sweep of old run grants
    images: tuple[str, ...] = ()  # actions on the Images table
    # Describe the run task definition, register images' copies of it (and pass their roles)
    register_image_definitions: bool = False
    deregister_image_definitions: bool = False  # release an image's copy (removed, made again)
    list_image_definitions: bool = False  # list and describe them (the stack's deletion)
    write_secrets: bool = False  # ssm:PutParameter under the secrets path; DeleteParameter (values)
    list_secrets: bool = False  # ssm:GetParametersByPath on the secrets' metadata
    delete_secrets: bool = False  # ssm:GetParameters, DeleteParameters under the path
    read_secrets: bool = False  # ssm:GetParameters (decrypted) under the path: a run's secrets
    # Imported output (`mycli migrate`): list runs/, get and put segments and end markers
    import_output: bool = False
    # Warm pools (docs/warm-runners.md): actions on the WarmTasks table, and Query on its
    # image-state index alone (an image's pool counts, shown by the image routes).
    warm_tasks: tuple[str, ...] = ()
    count_warm_tasks: bool = False
    write_mailboxes: bool = False  # s3:PutObject under warm/: a mailbox, or its assignment
    sign_mailboxes: bool = False  # sts:AssumeRole of the mailbox signer (GetObject warm/*)
    invoke_pool_manager: bool = False  # lambda:InvokeFunction: refill a pool now


# What launching a run takes: create's, and that of every function that may start a queued
# run when a lock frees (the run's image, made again if the stack changed; its uploads, its
# manifest and output slot; its values sealed with a grant for the task; its secrets).
LAUNCH = Access(
    run_tasks=True,
    check_uploads=True,
    write_run_inputs=True,
    seal_env=True,
    revoke_grants=True,  # the grant of a launch that failed
    images=(GET, SCAN, UPDATE),  # the run's image, or the default one; made again
    register_image_definitions=True,  # an image made from an older run task definition
    deregister_image_definitions=True,
    read_secrets=True,
)
# A claimer of warm tasks (docs/warm-runners.md): every launcher of runs (create, and the
# promoters: a queued run on an image with a pool claims a warm task too): the claim's
# transaction and the image's demand item, the assignment written to the task's mailbox,
# and the pool manager invoked to refill the pool at once. The task-events function moves
# warm tasks (ready, done, dead) as well.
CLAIM_WARM: dict[str, Any] = {
    "warm_tasks": WARM_WRITE,
    "count_warm_tasks": True,
    "write_mailboxes": True,
    "invoke_pool_manager": True,
}
# A promoter advances a lock's queue where the lock may have freed (a run's end, a release,
# a cancel, a failed launch, the sweep): the promotion transaction (PutItem on Locks, the
# entry's items out of LockQueue), expired waits ended, then the promoted run's launch with
# its env values unsealed (domain/queued_runs.py). A hold never frees a lock: not one.
PROMOTE = replace(
    LAUNCH,
    locks=(GET, PUT, DELETE),
    lock_queue=QUEUE_WRITE,
    unseal_queued_env=True,
    **CLAIM_WARM,
)

# The pool manager (its own function, every minute): starts each pool's tasks (RunTask of
# the images' task definitions, passing their roles, with each mailbox written first and
# signed with the mailbox signer's role), stops stale, surplus and orphaned ones (ListTasks
# and DescribeTasks find a warm task by its startedBy) and records them in WarmTasks. It
# touches no run: no Executions, Locks, keys, env key or secrets.
WARM_POOL_MANAGER = Access(
    api_keys=(),
    run_tasks=True,
    stop_tasks=True,
    describe_tasks=True,
    list_tasks=True,
    images=(GET, SCAN),
    warm_tasks=WARM_WRITE,
    count_warm_tasks=True,
    write_mailboxes=True,
    sign_mailboxes=True,
)

FUNCTION_ACCESS: dict[str, Access] = {
    "health": Access(api_keys=()),
    "console": Access(api_keys=()),  # static files only: no table, no key
    "me": Access(),
    # A run that may wait for its lock is queued (its env sealed); create then advances the
    # lock's queue (the lock may have freed meanwhile), as does a launch that failed.
    "create_execution": replace(
        PROMOTE,
        # One transaction records the execution, counts it (the quota counters, read with
        # GetItem) and checks its Idempotency-Key's marker (put, and deleted on a refusal).
        executions=(QUERY, GET, PUT, UPDATE, DELETE, CONDITION_CHECK),
        **CLAIM_WARM,
    ),
    "create_upload": Access(sign_upload_puts=True),
    "create_image": Access(
        images=(GET, PUT, SCAN, UPDATE),
        register_image_definitions=True,
        deregister_image_definitions=True,  # a name taken meanwhile: its copy is released
        count_warm_tasks=True,
    ),
    "list_images": Access(images=(SCAN,), count_warm_tasks=True),
    # A pool's new target, answered with its counts; a target above 0 is demand (wake).
    "update_image": Access(images=(UPDATE,), warm_tasks=(UPDATE,), count_warm_tasks=True),
    "delete_image": Access(
        images=(GET, DELETE), deregister_image_definitions=True, count_warm_tasks=True
    ),
    "quota": Access(executions=(GET,)),  # the quota counters
    "list_executions": Access(execution_indexes=("user_email-started_at", "status-started_at")),
    "get_execution": Access(executions=(QUERY,), locks=(GET,), lock_queue=QUEUE_READ),
    "get_execution_logs": Access(executions=(QUERY,), read_output=True),
    # A queued run leaves its queue; a cancel that ends a run frees its lock.
    "cancel_execution": replace(PROMOTE, executions=(QUERY, UPDATE), stop_tasks=True),
    "list_locks": Access(locks=(SCAN,), executions=(QUERY,), lock_queue=(*QUEUE_READ, SCAN)),
    "release_lock": replace(PROMOTE, executions=(QUERY, UPDATE)),  # and records the release
    # A hold never frees a lock, so it launches nothing; it is recorded in the history.
    "hold_lock": Access(locks=(GET, PUT), executions=(QUERY,), lock_queue=(*QUEUE_READ, PUT)),
    "lock_history": Access(lock_queue=(*QUEUE_READ, SCAN)),
    "create_user": Access(api_keys=(*AUTHENTICATE, PUT), api_keys_by_email=True),
    "list_users": Access(api_keys=(*AUTHENTICATE, SCAN)),
    "revoke_user": Access(api_keys_by_email=True),
    "put_secret": Access(write_secrets=True),
    # Imports (`mycli migrate`): a key by its hash (a conditional put); an execution's output
    # (after checking it has no record) and then its record, with no counter, lock or task.
    "import_key": Access(api_keys=(*AUTHENTICATE, PUT)),
    "import_output": Access(executions=(QUERY,), import_output=True),
    "import_execution": Access(executions=(QUERY, PUT), import_output=True),
    "list_secrets": Access(list_secrets=True),
    "delete_secret": Access(delete_secrets=True),
    # The custom resource that deregisters images' definitions when the stack is deleted.
    "destroy_images": Access(
        api_keys=(), list_image_definitions=True, deregister_image_definitions=True
    ),
    "task_events": replace(
        PROMOTE,
        api_keys=(),
        executions=(QUERY, UPDATE),
        read_run_results=True,  # the ended run's result (and its grant is revoked)
        **CLAIM_WARM,  # and a warm task's RUNNING and STOPPED: ready, done, dead
    ),
    "reaper": replace(
        PROMOTE,
        api_keys=(),
        executions=(QUERY, UPDATE),
        execution_indexes=("status-started_at",),
        lock_queue=(*QUEUE_WRITE, SCAN),  # the sweep: every lock with waiters
        stop_tasks=True,
        describe_tasks=True,
        list_tasks=True,
        read_run_results=True,  # a task whose event was lost is settled from its result
        list_grants=True,  # the sweep of old grants (it revokes the runs' it ends too)
    ),
    "warm_pool_manager": WARM_POOL_MANAGER,
}
