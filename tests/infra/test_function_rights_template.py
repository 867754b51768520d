"""Template assertions on what each function's role may do: least privilege per route, the
roles a launcher may pass, the env key (sealing, grants for the task role), S3 rights."""

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
)

from stacks.access import FUNCTION_ACCESS

Resources = dict[str, Any]
QUEUED_ENV = {"StringEquals": {"kms:EncryptionContext:purpose": "queued-env"}}


def env_key(resources: Resources) -> str:
    keys = of_type(resources, "AWS::KMS::Key")
    return next(k for k, v in keys.items() if "env values" in v["Properties"]["Description"])


PASSES_ROLES = {*LAUNCHERS, "create_image", POOL_MANAGER}
IMAGE_TASK_DEFINITION_ACTIONS = {
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "ecs:DeregisterTaskDefinition",
    "ecs:ListTaskDefinitions",
    "ecs:ListTaskDefinitionFamilies",
}


def test_no_policy_uses_resource_star_except_for_xray_and_cluster_bound_list_tasks(
    resources: Resources,
) -> None:
    cluster = next(iter(of_type(resources, "AWS::ECS::Cluster")))
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Resource"] != "*":
                continue
            if actions_of([statement]) == {"ecs:ListTasks"}:
                assert statement["Condition"] == {
                    "ArnEquals": {"ecs:cluster": {"Fn::GetAtt": [cluster, "Arn"]}}
                }
            elif actions_of([statement]) == {"ecr:GetAuthorizationToken"}:
                # The execution role's login to pull the agent's asset image and images (ECR
                # authorizes it on * only); the pulls themselves are on the repositories.
                [role] = policy["Properties"]["Roles"]
                assert role == {"Ref": run_task(resources)["ExecutionRoleArn"]["Fn::GetAtt"][0]}
            else:
                # CDK merges statements on the same resource: X-Ray's and the images'.
                assert set(actions_of([statement])) <= {
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    *IMAGE_TASK_DEFINITION_ACTIONS,
                }, statement


@pytest.mark.parametrize("module", sorted(FUNCTION_ACCESS))
def test_each_function_may_do_only_what_its_route_does(resources: Resources, module: str) -> None:
    function_id = functions_by_handler(resources)[module]
    actions = actions_of(policy_statements(resources, function_id))
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}

    assert ("ecs:RunTask" in actions) == (module in {*LAUNCHERS, POOL_MANAGER})
    assert ("iam:PassRole" in actions) == (module in PASSES_ROLES)
    # A launch makes the run's image again if it was made from an older run task definition
    # (the pool manager starts warm tasks of the image's current one only).
    assert ("ecs:RegisterTaskDefinition" in actions) == (module in PASSES_ROLES - {POOL_MANAGER})
    # Runs' output and results are read from S3: no function reads CloudWatch streams.
    assert "logs:GetLogEvents" not in actions
    assert ("s3:ListBucket" in actions) == (
        module
        in ("get_execution_logs", "task_events", "reaper", "import_output", "import_execution")
    )
    assert ("ecs:StopTask" in actions) == (module in ("cancel_execution", "reaper", POOL_MANAGER))
    assert ("ecs:ListTasks" in actions) == (module in ("reaper", POOL_MANAGER))
    assert not any(action.endswith("*") for action in actions)
    read_only = ("list_locks", "lock_history", "hold_lock", "list_executions", "get_execution")
    if module in ("health", "list_users", *read_only):
        statements = policy_statements(resources, function_id)
        executions_writes = [
            s
            for s in statements
            if writes & actions_of([s]) and "Executions" in json.dumps(s["Resource"])
        ]
        assert executions_writes == []
    if module == "health":
        assert not any(action.startswith("dynamodb:") for action in actions)


@pytest.mark.parametrize("module", sorted(PASSES_ROLES))
def test_pass_role_is_limited_to_the_two_task_roles_and_the_image_role_prefix(
    resources: Resources, module: str
) -> None:
    function_id = functions_by_handler(resources)[module]
    [statement] = [
        s for s in policy_statements(resources, function_id) if "iam:PassRole" in actions_of([s])
    ]
    roles = {r["Fn::GetAtt"][0] for r in statement["Resource"] if "Fn::GetAtt" in r}
    [prefixed] = [r for r in statement["Resource"] if "Fn::GetAtt" not in r]
    assert json.dumps(prefixed).endswith(':role/mycli-task-*"]]}')
    assert "*" not in statement["Resource"]
    task_definitions = of_type(resources, "AWS::ECS::TaskDefinition").values()
    expected = {t["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0] for t in task_definitions} | {
        t["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0] for t in task_definitions
    }
    assert roles == expected
    assert len(roles) == 2
    assert statement["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }


def test_the_task_role_grants_nothing(resources: Resources) -> None:
    role = run_task(resources)["TaskRoleArn"]["Fn::GetAtt"][0]
    policies = [
        p
        for p in of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
    ]
    assert policies == []
    assert "ManagedPolicyArns" not in resources[role]["Properties"]
    keys = of_type(resources, "AWS::KMS::Key")
    assert all(key["Properties"]["EnableKeyRotation"] is True for key in keys.values())
    # The env key decrypts only what was sealed for a queue (and, by grant, a run's task).
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "kms:Decrypt" in actions_of([statement]) and env_key(resources) in json.dumps(
                statement["Resource"]
            ):
                assert statement["Condition"] == QUEUED_ENV


@pytest.mark.parametrize("module", sorted(LAUNCHERS))
def test_a_launcher_may_grant_the_task_role_only_decrypt_bound_to_an_execution(
    resources: Resources, module: str
) -> None:
    function_id = functions_by_handler(resources)[module]
    [statement, for_images] = [
        s for s in policy_statements(resources, function_id) if "kms:CreateGrant" in actions_of([s])
    ]
    role = run_task(resources)["TaskRoleArn"]["Fn::GetAtt"][0]
    assert statement["Condition"] == {
        "StringEquals": {
            "kms:GranteePrincipal": {"Fn::GetAtt": [role, "Arn"]},
            "kms:GrantConstraintType": "EncryptionContextEquals",
        },
        "ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt"]},
    }
    # A run on an image with its own role: the grantee must be under the image role prefix.
    assert set(for_images["Condition"]) == {
        "StringLike",
        "StringEquals",
        "ForAllValues:StringEquals",
    }
    assert json.dumps(for_images["Condition"]["StringLike"]).endswith(':role/mycli-task-*"]]}}')
    assert for_images["Condition"]["StringEquals"] == {
        "kms:GrantConstraintType": "EncryptionContextEquals"
    }
    assert for_images["Condition"]["ForAllValues:StringEquals"] == {
        "kms:GrantOperations": ["Decrypt"]
    }


def test_only_the_launchers_may_seal_env_values_or_unseal_queued_ones(
    resources: Resources,
) -> None:
    key = env_key(resources)
    for module, function_id in functions_by_handler(resources).items():
        with_env_key = [
            s for s in policy_statements(resources, function_id) if key in json.dumps(s["Resource"])
        ]
        assert ("kms:Encrypt" in actions_of(with_env_key)) == (module in LAUNCHERS), module
        decrypting = [s for s in with_env_key if "kms:Decrypt" in actions_of([s])]
        assert len(decrypting) == (module in LAUNCHERS), module
        for statement in decrypting:
            assert statement["Action"] == "kms:Decrypt"
            assert statement["Resource"] == {"Fn::GetAtt": [key, "Arn"]}
            assert statement["Condition"] == QUEUED_ENV


def test_only_the_upload_route_signs_puts_and_only_launchers_check_uploads(
    resources: Resources,
) -> None:
    importers = ("import_output", "import_execution")  # imported output: runs/*/output/*
    readers = {*LAUNCHERS, "get_execution_logs", *importers}
    for module, function_id in functions_by_handler(resources).items():
        actions = actions_of(policy_statements(resources, function_id))
        assert ("s3:GetObject" in actions) == (module in readers)
        assert "s3:PutObject" not in actions or module in {
            "create_upload",
            *LAUNCHERS,
            *importers,
            POOL_MANAGER,
        }
