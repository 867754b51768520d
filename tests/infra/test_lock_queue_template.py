"""Template assertions for the lock queue (issue 21): the LockQueue table, its name in every
function's environment, who may read and write it, the promoters' rights to take a lock and
launch the promoted run (its env values unsealed only under the queue's purpose), and a
hold's function, which frees no lock and so launches nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_template import (
    LAUNCHERS,
    actions_of,
    functions_by_handler,
    of_type,
    policy_statements,
    table,
)

Resources = dict[str, Any]
GET, PUT, UPDATE, DELETE, QUERY, SCAN = (
    f"dynamodb:{action}"
    for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan")
)
QUEUE_WRITE = {GET, QUERY, PUT, UPDATE, DELETE}
# Actions on the LockQueue table, per function; every other function has none.
QUEUE_ACTIONS = {
    "create_execution": QUEUE_WRITE,  # enqueue; advance the queue
    "task_events": QUEUE_WRITE,
    "cancel_execution": QUEUE_WRITE,  # leave the queue; advance it
    "release_lock": QUEUE_WRITE,  # record the release; advance the queue
    "reaper": QUEUE_WRITE | {SCAN},  # the sweep finds every lock with waiters
    "hold_lock": {GET, QUERY, PUT},  # record the hold
    "get_execution": {GET, QUERY},  # a queued run's position
    "list_locks": {GET, QUERY, SCAN},  # every lock's queue
    "lock_history": {GET, QUERY, SCAN},
}
# The launch: a task of the run's task definition, its tags, its roles, its manifest and
# output slot, its values sealed with a grant for the task, its secrets, its image.
LAUNCH_ACTIONS = {
    "ecs:RunTask",
    "ecs:TagResource",
    "iam:PassRole",
    "s3:PutObject",
    "s3:GetObject",
    "kms:Encrypt",
    "kms:CreateGrant",
    "ssm:GetParameters",
}


def lock_queue_id(resources: Resources) -> str:
    [found] = [
        name
        for name, r in of_type(resources, "AWS::DynamoDB::Table").items()
        if name.startswith("DataLockQueue")
    ]
    return found


def statements_on(resources: Resources, module: str, table_id: str) -> list[dict[str, Any]]:
    function_id = functions_by_handler(resources)[module]
    arn = {"Fn::GetAtt": [table_id, "Arn"]}
    return [
        s
        for s in policy_statements(resources, function_id)
        if s["Resource"] == arn or (isinstance(s["Resource"], list) and arn in s["Resource"])
    ]


def test_the_lock_queue_table_is_keyed_by_lock_and_item_on_demand_and_retained(
    resources: Resources,
) -> None:
    properties = table(resources, "lock_name", "item")
    resource = resources[lock_queue_id(resources)]

    assert properties["KeySchema"] == [
        {"AttributeName": "lock_name", "KeyType": "HASH"},
        {"AttributeName": "item", "KeyType": "RANGE"},
    ]
    assert sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "item", "AttributeType": "S"},
        {"AttributeName": "lock_name", "AttributeType": "S"},
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert "GlobalSecondaryIndexes" not in properties
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == (
        "RetainExceptOnCreate",
        "Retain",
    )


def test_every_function_has_the_same_environment_naming_the_lock_queue(
    resources: Resources,
) -> None:
    expected = {"Ref": lock_queue_id(resources)}
    environments = [
        resources[function_id]["Properties"]["Environment"]["Variables"]
        for function_id in functions_by_handler(resources).values()
    ]

    # (the twin runs every function in one process, with one environment)
    assert all(variables == environments[0] for variables in environments)
    assert environments[0]["LOCK_QUEUE_TABLE"] == expected


def test_the_lock_queue_tables_name_is_an_output(template: Any) -> None:
    outputs = template.to_json()["Outputs"]
    resources = template.to_json()["Resources"]

    assert outputs["LockQueueTableName"]["Value"] == {"Ref": lock_queue_id(resources)}


@pytest.mark.parametrize("module", sorted(QUEUE_ACTIONS))
def test_a_function_that_reads_or_writes_queues_may_do_only_that_on_the_lock_queue(
    resources: Resources, module: str
) -> None:
    statements = statements_on(resources, module, lock_queue_id(resources))

    assert actions_of(statements) == QUEUE_ACTIONS[module]
    for statement in statements:
        assert statement["Resource"] == {"Fn::GetAtt": [lock_queue_id(resources), "Arn"]}
        assert "Condition" not in statement


def test_no_other_function_touches_the_lock_queue_and_no_policy_names_a_transaction(
    resources: Resources,
) -> None:
    queue = lock_queue_id(resources)
    for module, function_id in functions_by_handler(resources).items():
        statements = policy_statements(resources, function_id)
        if module not in QUEUE_ACTIONS:
            assert not any(queue in json.dumps(s["Resource"]) for s in statements), module
        # TransactWriteItems is authorized by the per-item actions of its parts.
        assert not actions_of(statements) & {"dynamodb:TransactWriteItems", "dynamodb:*"}


@pytest.mark.parametrize("module", sorted(LAUNCHERS))
def test_a_promoter_may_take_the_lock_and_launch_the_promoted_run(
    resources: Resources, module: str
) -> None:
    function_id = functions_by_handler(resources)[module]
    actions = actions_of(policy_statements(resources, function_id))
    [locks] = [
        name
        for name, r in of_type(resources, "AWS::DynamoDB::Table").items()
        if name.startswith("DataLocks")
    ]

    # The promotion transaction puts the lock; a finished holder's lock is deleted.
    assert {GET, PUT, DELETE} <= actions_of(statements_on(resources, module, locks))
    assert actions >= LAUNCH_ACTIONS


@pytest.mark.parametrize("module", sorted(LAUNCHERS))
def test_a_promoter_runs_tasks_as_create_does_on_the_executor_cluster_only(
    resources: Resources, module: str
) -> None:
    def run_task_statement(name: str) -> dict[str, Any]:
        function_id = functions_by_handler(resources)[name]
        [statement] = [
            s for s in policy_statements(resources, function_id) if "ecs:RunTask" in actions_of([s])
        ]
        return statement

    assert run_task_statement(module) == run_task_statement("create_execution")


@pytest.mark.parametrize("module", sorted(LAUNCHERS))
def test_a_promoter_may_decrypt_with_the_env_key_only_values_sealed_for_the_queue(
    resources: Resources, module: str
) -> None:
    function_id = functions_by_handler(resources)[module]
    [decrypt] = [
        s
        for s in policy_statements(resources, function_id)
        if "kms:Decrypt" in actions_of([s]) and "EnvKey" in json.dumps(s["Resource"])
    ]

    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": "queued-env"}}


def test_a_hold_launches_nothing_and_touches_no_key(resources: Resources) -> None:
    function_id = functions_by_handler(resources)["hold_lock"]
    actions = actions_of(policy_statements(resources, function_id))

    assert not any(a.startswith(("ecs:", "iam:", "kms:", "s3:", "ssm:")) for a in actions)
    assert actions - {"logs:CreateLogStream", "logs:PutLogEvents"} <= {
        GET,
        PUT,
        UPDATE,
        QUERY,
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


def test_the_lock_history_route_only_reads(resources: Resources) -> None:
    function_id = functions_by_handler(resources)["lock_history"]
    statements = policy_statements(resources, function_id)
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in actions_of([s]))]

    # The caller's key (GetItem, and its last use recorded), the queue table's history.
    assert actions_of(dynamodb) == {GET, UPDATE, QUERY, SCAN}
    assert not actions_of(statements) & {PUT, DELETE, "ecs:RunTask"}
