"""The twin's pieces read from the synthesized template: the resolver, the REST API's routes,
validation and gateway responses, the event rules, and the image map."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from twin.events import load_rules, matches, rate_seconds
from twin.functions import load_functions, shared_environment
from twin.images import agent_runtime, image_mapper
from twin.resolver import Physical, Resolver, Unresolved
from twin.rest_api import invalid_request, load_rest_api, proxy_event
from twin.template import Template, TemplateError, synthesize


@pytest.fixture(scope="module")
def template() -> Template:
    return synthesize()


@pytest.fixture(scope="module")
def resolver(template: Template) -> Resolver:
    """Every resource given a made-up physical value (no moto needed to read routes)."""
    resolver = Resolver()
    for logical_id in template.resources:
        resolver.add(
            logical_id,
            Physical(
                f"phys-{logical_id}",
                {
                    attribute: f"arn:{logical_id}:{attribute}"
                    for attribute in ("Arn", "GroupId", "RootResourceId", "QueueName")
                },
            ),
        )
    return resolver


def test_given_intrinsics_when_resolved_then_values_are_the_resources_and_pseudo_parameters() -> (
    None
):
    resolver = Resolver(region="eu-west-1", account="123456789012")
    resolver.add("Table", Physical("t-1", {"Arn": "arn:table"}))

    assert resolver.resolve({"Ref": "Table"}) == "t-1"
    assert resolver.resolve({"Fn::GetAtt": ["Table", "Arn"]}) == "arn:table"
    assert resolver.resolve({"Fn::Join": ["-", [{"Ref": "AWS::Region"}, "x"]]}) == "eu-west-1-x"
    assert resolver.resolve({"Fn::Sub": "${AWS::AccountId}/${Table}/${Table.Arn}/${!Lit}"}) == (
        "123456789012/t-1/arn:table/${Lit}"
    )
    assert resolver.resolve({"Fn::Select": [1, {"Fn::GetAZs": ""}]}) == "eu-west-1b"


def test_given_a_resource_the_twin_did_not_create_when_resolved_then_it_is_named() -> None:
    with pytest.raises(Unresolved, match="Ref Missing"):
        Resolver().resolve({"Ref": "Missing"})
    with pytest.raises(Unresolved, match="Fn::If"):
        Resolver().resolve({"Fn::If": ["c", 1, 2]})


def test_given_the_template_then_every_route_is_served_by_its_function(
    template: Template, resolver: Resolver
) -> None:
    from orchestrator.handlers.catalog import CONSOLE_ROUTES, ROUTES

    api = load_rest_api(template, resolver)
    functions = load_functions(template, resolver)

    served = {(r.method, r.resource): functions[r.function].handler for r in api.routes}
    assert served == {(r.method, r.path): r.handler for r in (*ROUTES, *CONSOLE_ROUTES)}
    assert api.stage == "prod"


def test_given_the_templates_binary_media_types_then_only_an_accept_naming_one_gets_bytes(
    template: Template, resolver: Resolver
) -> None:
    # Given the API as the stack defines it (the logs route's binary page)
    api = load_rest_api(template, resolver)

    # Then API Gateway would send a base64-flagged body as bytes only for that Accept
    assert api.binary_media_types == ("application/octet-stream",)
    assert api.sends_binary("application/octet-stream")
    assert api.sends_binary("Application/Octet-Stream; q=1, application/json")
    assert not api.sends_binary("application/json, application/octet-stream")
    assert not api.sends_binary("application/json")
    assert not api.sends_binary(None)


def test_given_paths_when_routed_then_literals_win_and_values_are_as_sent(
    template: Template, resolver: Resolver
) -> None:
    api = load_rest_api(template, resolver)

    route, values = api.route("GET", "/executions/abc/logs") or (None, {})
    assert route is not None and route.resource == "/executions/{execution_id}/logs"
    assert values == {"execution_id": "abc"}
    assert api.route("GET", "/ui/a/b.js") is not None
    assert api.route("PATCH", "/executions") is None
    assert api.route("GET", "/nowhere") is None


def test_given_a_body_against_the_model_when_validated_then_the_gateway_response_answers(
    template: Template, resolver: Resolver
) -> None:
    api = load_rest_api(template, resolver)
    route, values = api.route("POST", "/users") or (None, {})
    assert route is not None

    def event(body: str) -> dict[str, Any]:
        return proxy_event(
            api,
            route,
            values,
            method="POST",
            path="/users",
            query="",
            headers=[("content-type", "application/json")],
            body=body.encode(),
            source_ip="1",
        )

    assert invalid_request(route, event('{"email": "a@b.io"}')) is None
    refused = invalid_request(route, event('{"email": "a@b.io", "extra": 1}'))
    assert refused == ("BAD_REQUEST_BODY", "Invalid request body")
    status, headers, data = api.error(*refused[:1], 400, refused[1])
    assert status == 400 and headers["x-content-type-options"] == "nosniff"
    assert json.loads(data)["error"] == {
        "code": "validation_error",
        "message": "Invalid request body",
        "details": {},
    }
    status, _, data = api.error("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
    assert (status, json.loads(data)["error"]["code"]) == (403, "gateway_error")


def test_given_the_template_then_functions_share_one_environment(
    template: Template, resolver: Resolver
) -> None:
    environment = shared_environment(template, resolver)

    assert environment["API_KEYS_TABLE"] == "phys-" + next(
        logical for logical, _ in template.of_type("AWS::DynamoDB::Table") if "ApiKeys" in logical
    )


def test_given_functions_with_different_environments_then_the_twin_refuses() -> None:
    def function(value: str) -> dict[str, Any]:
        return {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12",
                "Handler": "m.handler",
                "Environment": {"Variables": {"A": value}},
            },
        }

    template = Template({"Resources": {"F1": function("1"), "F2": function("2")}})
    with pytest.raises(TemplateError, match="F1 and F2 differ in their environment: A"):
        shared_environment(template, Resolver())


def test_given_the_rules_then_task_events_go_to_the_task_events_function(
    template: Template, resolver: Resolver
) -> None:
    functions = load_functions(template, resolver)
    rules = load_rules(template, resolver, functions)
    [events] = [rule for rule in rules if rule.pattern is not None]
    schedules = {
        rule.targets[0].function.handler: rule for rule in rules if rule.every_seconds is not None
    }
    schedule = schedules["orchestrator.handlers.reaper.handler"]
    cluster = resolver.text({"Fn::GetAtt": [template.one("AWS::ECS::Cluster")[0], "Arn"]})

    def event(status: str, cluster_arn: str = cluster) -> dict[str, Any]:
        return {
            "source": "aws.ecs",
            "detail-type": "ECS Task State Change",
            "detail": {"clusterArn": cluster_arn, "lastStatus": status},
        }

    assert events.pattern is not None
    assert [t.function.handler for t in events.targets] == [
        "orchestrator.handlers.task_events.handler"
    ]
    assert matches(events.pattern, event("STOPPED"))
    assert not matches(events.pattern, event("PENDING"))
    assert not matches(events.pattern, event("STOPPED", "arn:other"))
    assert [t.function.handler for t in schedule.targets] == [
        "orchestrator.handlers.reaper.handler"
    ]
    assert schedule.every_seconds == 60
    # The warm pools' manager (issue 22) has its own one-minute schedule.
    assert set(schedules) == {
        "orchestrator.handlers.reaper.handler",
        "orchestrator.handlers.warm_pool_manager.handler",
    }
    assert schedules["orchestrator.handlers.warm_pool_manager.handler"].every_seconds == 60
    assert rate_seconds("rate(2 hours)") == 7200
    with pytest.raises(TemplateError):
        rate_seconds("cron(0 * * * ? *)")


def test_given_a_task_definition_then_the_agent_maps_to_the_venv_and_the_rest_to_the_host() -> None:
    mapper = image_mapper(
        [
            {
                "containerDefinitions": [
                    {"name": "agent", "image": "123.dkr.ecr.eu-west-1.amazonaws.com/assets:abc"},
                    {"name": "command", "image": "public.ecr.aws/docker/library/alpine:3.20"},
                ]
            }
        ]
    )

    agent = mapper("123.dkr.ecr.eu-west-1.amazonaws.com/assets:abc")
    assert agent == agent_runtime()
    assert agent.argv(None, None) == [sys.executable, "-m", "orchestrator.agent"]
    assert agent.environment["PATH"].startswith(str(Path(sys.executable).parent))
    assert agent.environment["PYTHONPATH"].endswith("lambda_src")
    host = mapper("public.ecr.aws/docker/library/alpine:3.20")
    assert host.argv(None, ("sh", "-c", "true")) == ["sh", "-c", "true"]
