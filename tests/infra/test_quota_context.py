"""The quota's context values reach the create function: mycli:maxRunningPerUser and
mycli:maxRunningTotal -> PlatformConfig -> the functions' environment -> AwsSettings ->
ExecutionPolicy."""

from __future__ import annotations

from typing import Any

import pytest
from test_template import actions_of, functions_by_handler, policy_statements

from orchestrator.adapters.aws.composition import AwsPorts, build_services
from orchestrator.adapters.aws.settings import AwsSettings
from stacks.config import ConfigError, PlatformConfig


def test_the_defaults_are_10_per_user_and_20_in_total() -> None:
    config = PlatformConfig.from_context(lambda key: None)

    assert (config.max_running_per_user, config.max_running_total) == (10, 20)
    assert (AwsSettings().max_running_per_user, AwsSettings().max_running_total) == (10, 20)


def test_context_values_become_the_create_functions_policy() -> None:
    context = {"mycli:maxRunningPerUser": "3", "mycli:maxRunningTotal": 7}
    config = PlatformConfig.from_context(context.get)
    environment = {
        "MAX_RUNNING_PER_USER": str(config.max_running_per_user),
        "MAX_RUNNING_TOTAL": str(config.max_running_total),
    }

    settings = AwsSettings.from_environment(environment)
    services = build_services(AwsPorts.deferred(settings, None), settings)  # type: ignore[arg-type]

    policy = services.executions._policy
    assert (policy.max_running_per_user, policy.max_running_total) == (3, 7)


def test_a_per_user_limit_above_the_total_is_refused() -> None:
    context = {"mycli:maxRunningPerUser": 30, "mycli:maxRunningTotal": 20}

    with pytest.raises(ConfigError, match="maxRunningPerUser"):
        PlatformConfig.from_context(context.get)


def test_the_template_gives_the_functions_the_limits(template: object) -> None:
    functions = template.find_resources("AWS::Lambda::Function")  # type: ignore[attr-defined]
    create = next(
        f
        for f in functions.values()
        if f["Properties"]["Handler"].endswith("create_execution.handler")
    )
    variables = create["Properties"]["Environment"]["Variables"]
    assert (variables["MAX_RUNNING_PER_USER"], variables["MAX_RUNNING_TOTAL"]) == ("10", "20")


def test_the_counters_and_markers_have_what_they_need(resources: dict[str, Any]) -> None:
    # Given the template's Executions table and its create and quota functions
    [executions] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::DynamoDB::Table"
        and r["Properties"]["KeySchema"][0]["AttributeName"] == "execution_id"
    ]
    functions = functions_by_handler(resources)

    def allowed(module: str, on: str) -> set[str]:
        statements = policy_statements(resources, functions[module])
        return actions_of([s for s in statements if on in str(s["Resource"])])

    # Then markers expire, the create's transaction may do its checks and reads, and
    # neither counts through the eventually consistent status index any more
    assert executions["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at_epoch",
        "Enabled": True,
    }
    create = allowed("create_execution", "Executions")
    assert {"dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:DeleteItem"} <= create
    assert "dynamodb:GetItem" in allowed("quota", "Executions")
    for module in ("create_execution", "quota"):
        assert allowed(module, "status-started_at") == set(), module
