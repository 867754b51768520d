"""Images on AWS in the template: the execution role pulls from this account's ECR only under
mycli:ecrRepositoryPrefix (and the functions learn the prefix), the functions that touch
images' task definitions are exactly those that must, and a custom resource deregisters the
images' task definitions when the stack is deleted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_template import (
    LAUNCHERS,
    Resources,
    actions_of,
    functions_by_handler,
    of_type,
    policy_statements,
    run_task,
)

from stacks.config import ConfigError, PlatformConfig

PULLS = {"ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"}


def execution_role_statements(resources: Resources) -> list[dict[str, Any]]:
    role = run_task(resources)["ExecutionRoleArn"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def repository_patterns(resources: Resources) -> list[str]:
    """The execution role's pull resources, CloudFormation joins flattened to text."""
    [pulls] = [s for s in execution_role_statements(resources) if actions_of([s]) >= PULLS]
    return [json.dumps(resource) for resource in pulls["Resource"]]


def test_the_execution_role_pulls_only_this_accounts_repositories_under_the_prefix(
    resources: Resources,
) -> None:
    patterns = repository_patterns(resources)
    statements = execution_role_statements(resources)

    [images] = [p for p in patterns if "mycli/" in p]
    assert images.endswith(':repository/mycli/*"]]}')
    for scope in ('":ecr:", {"Ref": "AWS::Region"}', '{"Ref": "AWS::AccountId"}'):
        assert scope in images
    # the only other repository: CDK's assets (the agent's image)
    assert all("mycli/" in p or "container-assets" in p for p in patterns)
    [login] = [s for s in statements if actions_of([s]) == {"ecr:GetAuthorizationToken"}]
    assert login["Resource"] == "*"  # ECR authorizes its login on * only
    assert all("ecr:*" not in actions_of([s]) for s in statements)


def test_every_function_learns_the_repository_prefix_as_an_arn_prefix(
    resources: Resources,
) -> None:
    for function_id in functions_by_handler(resources).values():
        variables = resources[function_id]["Properties"]["Environment"]["Variables"]
        assert json.dumps(variables["ECR_REPOSITORY_ARN_PREFIX"]).endswith(':repository/mycli/"]]}')


def test_the_context_value_sets_the_prefix_and_an_empty_one_is_refused() -> None:
    config = PlatformConfig.from_context({"mycli:ecrRepositoryPrefix": "team-a/"}.get)

    assert PlatformConfig().ecr_repository_prefix == "mycli/"
    assert config.ecr_repository_prefix == "team-a/"
    for bad in ("", "Upper/", "/leading", "has space"):
        with pytest.raises(ConfigError, match="ecrRepositoryPrefix"):
            PlatformConfig.from_context({"mycli:ecrRepositoryPrefix": bad}.get)


def test_only_the_functions_that_must_touch_images_task_definitions(
    resources: Resources,
) -> None:
    by_handler = functions_by_handler(resources)

    def holders(action: str) -> set[str]:
        return {
            module
            for module, function_id in by_handler.items()
            if action in actions_of(policy_statements(resources, function_id))
        }

    # Registering: an admin's image, and a run (created, or promoted from a lock's queue) on
    # an image made from an older run task definition (made again). Deregistering: those
    # (the copy they replace), removal, and the stack's deletion. Listing: only the deletion.
    assert holders("ecs:RegisterTaskDefinition") == {"create_image", *LAUNCHERS}
    assert holders("ecs:DeregisterTaskDefinition") == {
        "create_image",
        *LAUNCHERS,
        "delete_image",
        "destroy_images",
    }
    assert holders("ecs:ListTaskDefinitions") == {"destroy_images"}
    assert holders("ecs:ListTaskDefinitionFamilies") == {"destroy_images"}
    assert "iam:PassRole" not in actions_of(
        policy_statements(resources, by_handler["delete_image"])
    )
    destroy = actions_of(policy_statements(resources, by_handler["destroy_images"]))
    assert not any(action.startswith(("dynamodb:", "s3:", "kms:")) for action in destroy)


def test_a_custom_resource_deregisters_the_images_definitions_on_delete(
    resources: Resources,
) -> None:
    by_handler = functions_by_handler(resources)
    [custom] = of_type(resources, "Custom::ImageDefinitions").values()
    function_id = by_handler["destroy_images"]
    role = resources[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    [policy_id] = [
        name
        for name, policy in of_type(resources, "AWS::IAM::Policy").items()
        if {"Ref": role} in policy["Properties"]["Roles"]
    ]

    assert custom["Properties"]["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}
    # the handler tells this stack's definitions by the execution role they all carry
    execution_role = run_task(resources)["ExecutionRoleArn"]
    assert custom["Properties"]["ExecutionRoleArn"] == execution_role
    # deleted before the function and its policy, so the delete can still deregister
    assert {function_id, policy_id} <= set(custom["DependsOn"])
    assert custom["DeletionPolicy"] == "Delete"
    handler = resources[function_id]["Properties"]
    assert handler["Handler"] == "orchestrator.handlers.destroy_images.handler"
    # it finds them by the families' prefix, which every function is given
    prefix = handler["Environment"]["Variables"]["IMAGE_FAMILY_PREFIX"]
    assert prefix == "Mycli-image"  # <stack name>-image
