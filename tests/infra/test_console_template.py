"""Template assertions for the web console: GET /ui and /ui/{proxy+} (no API key, no
authorizer) proxied to one function that may touch nothing but its own logs."""

from __future__ import annotations

import json
from typing import Any

from test_template import actions_of, functions_by_handler, of_type, policy_statements

Resources = dict[str, Any]


def _resource_paths(resources: Resources) -> dict[str, str]:
    parts = {
        name: (r["Properties"]["PathPart"], r["Properties"]["ParentId"])
        for name, r in of_type(resources, "AWS::ApiGateway::Resource").items()
    }

    def full(name: str) -> str:
        part, parent = parts[name]
        return (full(parent["Ref"]) if "Ref" in parent else "") + "/" + part

    return {name: full(name) for name in parts}


def test_get_ui_and_its_proxy_reach_the_console_function_without_a_key(
    resources: Resources,
) -> None:
    console = functions_by_handler(resources)["console"]
    paths = _resource_paths(resources)
    methods = {
        paths[m["Properties"]["ResourceId"]["Ref"]]: m["Properties"]
        for m in of_type(resources, "AWS::ApiGateway::Method").values()
        if "Ref" in m["Properties"]["ResourceId"]
        and paths[m["Properties"]["ResourceId"]["Ref"]].startswith("/ui")
    }

    assert set(methods) == {"/ui", "/ui/{proxy+}"}
    for properties in methods.values():
        assert properties["HttpMethod"] == "GET"
        assert properties["AuthorizationType"] == "NONE"
        assert not properties.get("ApiKeyRequired", False)
        assert properties["Integration"]["Type"] == "AWS_PROXY"
        assert f'"{console}"' in json.dumps(properties["Integration"]["Uri"])


def test_the_console_function_serves_files_and_may_touch_no_data(resources: Resources) -> None:
    console = functions_by_handler(resources)["console"]
    properties = resources[console]["Properties"]
    actions = actions_of(policy_statements(resources, console))

    assert properties["Handler"] == "orchestrator.handlers.console.handler"
    assert actions <= {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


def test_api_gateways_own_answers_carry_the_header_policy(resources: Resources) -> None:
    # (no route or method for the request, throttled, too large, integration failure: API
    # Gateway answers those itself, before any function, for console paths too)
    responses = of_type(resources, "AWS::ApiGateway::GatewayResponse").values()
    types = {r["Properties"]["ResponseType"] for r in responses}

    assert {"DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED"} <= types
    for response in responses:
        parameters = response["Properties"]["ResponseParameters"]
        header = {
            name.removeprefix("gatewayresponse.header."): value
            for name, value in parameters.items()
        }
        assert header["X-Content-Type-Options"] == "'nosniff'"
        assert header["X-Frame-Options"] == "'DENY'"
        assert header["Referrer-Policy"] == "'no-referrer'"
        assert header["Content-Security-Policy"] == "'sandbox'"
        for value in header.values():
            assert value.count("'") == 2, "a static value holds no quote of its own"


def test_the_stages_own_throttling_says_when_to_retry(resources: Resources) -> None:
    # Given API Gateway's answer when the stage's rate limit is reached
    [throttled] = [
        response
        for response in of_type(resources, "AWS::ApiGateway::GatewayResponse").values()
        if response["Properties"]["ResponseType"] == "THROTTLED"
    ]
    # Then it carries Retry-After, as the functions' throttled answers do
    parameters = throttled["Properties"]["ResponseParameters"]
    assert parameters["gatewayresponse.header.Retry-After"] == "'1'"
