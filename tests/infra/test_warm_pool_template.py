"""Template assertions for warm pools (issue 22, docs/warm-runners.md): the WarmTasks table,
the pool manager's function, schedule and rights, the mailbox signer, who may claim and
write mailboxes, and mycli:warmBudget."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_template import (
    LAUNCHERS,
    POOL_MANAGER,
    actions_of,
    functions_by_handler,
    of_type,
    policy_statements,
    run_task,
    table,
)
from tests.infra.conftest import synthesize

from orchestrator.adapters.aws.dynamodb_warm_pool import INDEX
from stacks.access import FUNCTION_ACCESS
from stacks.config import ConfigError, PlatformConfig

Resources = dict[str, Any]
# Every launcher of runs claims warm tasks (a queued run promoted by a release, a cancel,
# the reaper or a run's end may start warm) and asks the pool manager to refill.
CLAIMERS = LAUNCHERS
IMAGE_ROUTES = {"create_image", "list_images", "delete_image"}


def warm_tasks_id(resources: Resources) -> str:
    [name] = [n for n in of_type(resources, "AWS::DynamoDB::Table") if n.startswith("DataWarm")]
    return name


def signer(resources: Resources) -> tuple[str, dict[str, Any]]:
    [(name, role)] = [
        (n, r)
        for n, r in of_type(resources, "AWS::IAM::Role").items()
        if n.startswith("WarmPoolsMailboxSigner")
    ]
    return name, role


def manager_role(resources: Resources) -> str:
    function_id = functions_by_handler(resources)[POOL_MANAGER]
    role: str = resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    return role


def statements_with(resources: Resources, module: str, action: str) -> list[dict[str, Any]]:
    function_id = functions_by_handler(resources)[module]
    return [s for s in policy_statements(resources, function_id) if action in actions_of([s])]


def naming(statements: list[dict[str, Any]], logical_id: str) -> list[dict[str, Any]]:
    return [s for s in statements if f'"{logical_id}"' in json.dumps(s["Resource"])]


def test_the_warm_tasks_table_has_the_designs_key_index_and_ttl(resources: Resources) -> None:
    warm = table(resources, "task_id")
    [index] = warm["GlobalSecondaryIndexes"]

    assert index["IndexName"] == INDEX == "image-state"  # the adapter's, by name
    assert index["KeySchema"] == [
        {"AttributeName": "image", "KeyType": "HASH"},
        {"AttributeName": "state", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}  # a claim reads the whole task
    types = {a["AttributeName"]: a["AttributeType"] for a in warm["AttributeDefinitions"]}
    assert types == {"task_id": "S", "image": "S", "state": "S"}
    assert warm["TimeToLiveSpecification"] == {"AttributeName": "expires_at_epoch", "Enabled": True}
    assert warm["BillingMode"] == "PAY_PER_REQUEST"
    assert warm["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
    kept = resources[warm_tasks_id(resources)]
    assert (kept["DeletionPolicy"], kept["UpdateReplacePolicy"]) == (
        "RetainExceptOnCreate",
        "Retain",
    )


def test_every_function_names_the_table_the_budget_the_manager_and_the_signer(
    template: Any, resources: Resources
) -> None:
    outputs = template.to_json()["Outputs"]
    table_id = warm_tasks_id(resources)
    signer_id, _ = signer(resources)
    manager = resources[functions_by_handler(resources)[POOL_MANAGER]]["Properties"]

    assert outputs["WarmTasksTableName"]["Value"] == {"Ref": table_id}
    assert manager["FunctionName"] == "Mycli-warm-pools"
    for function_id in functions_by_handler(resources).values():
        variables = resources[function_id]["Properties"]["Environment"]["Variables"]
        assert variables["WARM_TASKS_TABLE"] == {"Ref": table_id}
        assert variables["WARM_BUDGET"] == "10"
        assert variables["WARM_POOL_FUNCTION"] == "Mycli-warm-pools"
        assert variables["MAILBOX_SIGNER_ROLE_ARN"] == {"Fn::GetAtt": [signer_id, "Arn"]}


def test_the_pool_manager_runs_every_minute_without_retries(resources: Resources) -> None:
    function_id = functions_by_handler(resources)[POOL_MANAGER]
    [rule] = [
        r["Properties"]
        for r in of_type(resources, "AWS::Events::Rule").values()
        if r["Properties"].get("Targets", [{}])[0].get("Arn")
        == {"Fn::GetAtt": [function_id, "Arn"]}
    ]
    [config] = [
        c["Properties"]
        for c in of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    [permission] = [
        p["Properties"]
        for p in of_type(resources, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]

    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["Targets"][0]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    assert config["MaximumRetryAttempts"] == 0
    assert permission["Principal"] == "events.amazonaws.com"
    assert resources[function_id]["Properties"]["Timeout"] == 60


def test_the_pool_manager_may_do_exactly_what_keeping_pools_takes(resources: Resources) -> None:
    function_id = functions_by_handler(resources)[POOL_MANAGER]
    statements = policy_statements(resources, function_id)

    assert actions_of(statements) == {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:GetItem",
        "dynamodb:Scan",  # the Images table: every image's pool
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "ecs:RunTask",
        "ecs:TagResource",
        "ecs:StopTask",
        "ecs:DescribeTasks",
        "ecs:ListTasks",
        "iam:PassRole",
        "s3:PutObject",
        "sts:AssumeRole",
    }
    images = next(n for n in of_type(resources, "AWS::DynamoDB::Table") if n.startswith("DataImag"))
    [on_images] = naming(statements, images)
    assert set(actions_of([on_images])) == {"dynamodb:GetItem", "dynamodb:Scan"}
    on_warm = naming(statements, warm_tasks_id(resources))
    assert {json.dumps(s["Resource"]) for s in on_warm} == {
        json.dumps({"Fn::GetAtt": [warm_tasks_id(resources), "Arn"]}),
        json.dumps(
            {
                "Fn::Join": [
                    "",
                    [{"Fn::GetAtt": [warm_tasks_id(resources), "Arn"]}, "/index/image-state"],
                ]
            }
        ),
    }
    # Nothing of a run: no execution, lock, key, env key or secret.
    kinds = ("DataExecutions", "DataLocks", "DataLockQueue", "DataApiKeys", "ExecutorEnvKey")
    assert not any(kind in json.dumps(statements) for kind in kinds)
    assert not any(a.startswith(("kms:", "ssm:")) for a in actions_of(statements))


def test_the_pool_manager_runs_and_stops_tasks_only_as_create_does_on_the_cluster(
    resources: Resources,
) -> None:
    cluster = next(iter(of_type(resources, "AWS::ECS::Cluster")))
    on_cluster = {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": [cluster, "Arn"]}}}
    [run] = statements_with(resources, POOL_MANAGER, "ecs:RunTask")
    [create_run] = statements_with(resources, "create_execution", "ecs:RunTask")
    [stop] = statements_with(resources, POOL_MANAGER, "ecs:StopTask")
    [reaper_stop] = statements_with(resources, "reaper", "ecs:StopTask")
    [tag] = statements_with(resources, POOL_MANAGER, "ecs:TagResource")
    [listing] = statements_with(resources, POOL_MANAGER, "ecs:ListTasks")

    # RunTask cannot be conditioned on startedBy: the run task definition and the images'
    # families (Mycli-image-*), on the executor cluster, exactly as for create.
    assert run == create_run
    assert run["Condition"] == on_cluster
    assert json.dumps(run["Resource"]).count(":task-definition/Mycli-image-*") == 1
    assert {"Ref": run_task_id(resources)} in run["Resource"]
    assert stop == reaper_stop  # StopTask and DescribeTasks: the cluster's tasks
    assert stop["Condition"] == on_cluster
    assert json.dumps(stop["Resource"]).endswith('":task/", {"Ref": "' + cluster + '"}, "/*"]]}')
    assert tag["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}
    assert (listing["Resource"], listing["Condition"]) == ("*", on_cluster)


def run_task_id(resources: Resources) -> str:
    [name] = of_type(resources, "AWS::ECS::TaskDefinition")
    return name


def test_the_mailbox_signer_only_reads_mailboxes_and_only_the_manager_assumes_it(
    resources: Resources,
) -> None:
    signer_id, role = signer(resources)
    properties = role["Properties"]
    bucket = next(
        n
        for n, b in of_type(resources, "AWS::S3::Bucket").items()
        if "LoggingConfiguration" in b["Properties"]
    )

    assert properties["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": {"Fn::GetAtt": [manager_role(resources), "Arn"]}},
        }
    ]
    assert properties["MaxSessionDuration"] == 3600  # a mailbox URL's life is exact
    [policy] = properties["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/warm/*"]]},
        }
    ]
    assert "ManagedPolicyArns" not in properties
    assert not [
        p
        for p in of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": signer_id} in p["Properties"]["Roles"]
    ]
    for module in FUNCTION_ACCESS:
        assuming = statements_with(resources, module, "sts:AssumeRole")
        if module == POOL_MANAGER:
            assert [s["Resource"] for s in assuming] == [{"Fn::GetAtt": [signer_id, "Arn"]}]
        else:
            assert assuming == [], module


def test_only_the_manager_and_the_claimers_write_warm_tasks_and_mailboxes(
    resources: Resources,
) -> None:
    table_id = warm_tasks_id(resources)
    manager_function = functions_by_handler(resources)[POOL_MANAGER]
    for module, function_id in functions_by_handler(resources).items():
        statements = policy_statements(resources, function_id)
        on_table = naming(statements, table_id)
        on_index = [s for s in on_table if "/index/image-state" in json.dumps(s["Resource"])]
        writes = {"dynamodb:PutItem", "dynamodb:UpdateItem"} & actions_of(on_table)
        mailboxes = [s for s in statements if "/warm/*" in json.dumps(s["Resource"])]
        invokes = statements_with(resources, module, "lambda:InvokeFunction")
        if module in {*CLAIMERS, POOL_MANAGER}:
            assert writes == {"dynamodb:PutItem", "dynamodb:UpdateItem"}, module
            assert [s["Action"] for s in mailboxes] == ["s3:PutObject"], module
        elif module == "update_image":  # a new target above 0 is demand: one UpdateItem
            assert (writes, mailboxes) == ({"dynamodb:UpdateItem"}, []), module
        else:
            assert (writes, mailboxes) == (set(), []), module
        if module == "update_image":
            assert actions_of(on_table) == {"dynamodb:Query", "dynamodb:UpdateItem"}
        elif module in IMAGE_ROUTES:  # the pool's counts: Query on the index, nothing else
            assert [s["Action"] for s in on_table] == ["dynamodb:Query"]
            assert on_table == on_index
        elif module not in {*CLAIMERS, POOL_MANAGER}:
            assert on_table == [], module
        if module in CLAIMERS:  # a pool refilled at once after a claim or a warm task's end
            [invoke] = invokes
            assert json.dumps(invoke["Resource"]).endswith(':function:Mycli-warm-pools"]]}')
        else:
            assert invokes == [], module
    assert "DeleteItem" not in json.dumps(
        naming(policy_statements(resources, manager_function), table_id)
    )


def test_warm_tasks_run_with_roles_that_grant_nothing_new(resources: Resources) -> None:
    # The warm task's role is the image's task role, unchanged: the stack's grants nothing
    # (test_the_task_role_grants_nothing), and no function may pass the signer to a task.
    signer_id, _ = signer(resources)
    task_role = run_task(resources)["TaskRoleArn"]["Fn::GetAtt"][0]
    assert not [
        p
        for p in of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": task_role} in p["Properties"]["Roles"]
    ]
    for module in {*LAUNCHERS, POOL_MANAGER}:
        [passing] = statements_with(resources, module, "iam:PassRole")
        assert signer_id not in json.dumps(passing["Resource"])


def test_mailboxes_expire_after_a_day(resources: Resources) -> None:
    [code] = [
        b["Properties"]
        for b in of_type(resources, "AWS::S3::Bucket").values()
        if "LoggingConfiguration" in b["Properties"]
    ]
    rules = {r["Id"]: r for r in code["LifecycleConfiguration"]["Rules"]}
    warm = rules["expire-warm-mailboxes"]
    assert (warm["Prefix"], warm["ExpirationInDays"], warm["Status"]) == ("warm/", 1, "Enabled")


def test_the_warm_budget_defaults_to_10_and_zero_turns_pools_off() -> None:
    assert PlatformConfig.from_context(lambda key: None).warm_budget == 10
    assert PlatformConfig.from_context({"mycli:warmBudget": "0"}.get).warm_budget == 0


@pytest.mark.parametrize("budget", [-1, 501, "many"])
def test_a_budget_out_of_range_is_refused_naming_the_key(budget: object) -> None:
    with pytest.raises(ConfigError, match="mycli:warmBudget"):
        PlatformConfig.from_context({"mycli:warmBudget": budget}.get)


def test_the_budget_context_value_reaches_every_function() -> None:
    resources = synthesize(**{"mycli:warmBudget": 3}).to_json()["Resources"]
    budgets = {
        resources[f]["Properties"]["Environment"]["Variables"]["WARM_BUDGET"]
        for f in functions_by_handler(resources).values()
    }
    assert budgets == {"3"}
