"""Template assertions for the import routes (`mycli migrate`): each is its own function
behind an explicit API method; they may write imported output only under runs/*/output/, keys
only to the APIKeys table, records only to Executions, and nothing else: no task, KMS key,
secret, lock or image."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_template import actions_of, functions_by_handler, of_type, policy_statements

Resources = dict[str, Any]
IMPORTS = {
    "import_key": {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
    },
    "import_output": {"dynamodb:Query", "s3:ListBucket", "s3:GetObject", "s3:PutObject"},
    "import_execution": {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
    },
}
LOGGING = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments"}
TRACING = {"xray:PutTelemetryRecords"}


@pytest.mark.parametrize("module", sorted(IMPORTS))
def test_an_import_function_may_do_exactly_its_route_and_nothing_else(
    resources: Resources, module: str
) -> None:
    statements = policy_statements(resources, functions_by_handler(resources)[module])

    assert actions_of(statements) - LOGGING - TRACING == IMPORTS[module] | (
        {"dynamodb:GetItem", "dynamodb:UpdateItem"}  # the caller's key: authenticate
    )


@pytest.mark.parametrize("module", ["import_output", "import_execution"])
def test_imported_output_goes_only_under_runs_output(resources: Resources, module: str) -> None:
    statements = policy_statements(resources, functions_by_handler(resources)[module])
    s3 = [s for s in statements if any(a.startswith("s3:") for a in actions_of([s]))]

    for statement in s3:
        text = json.dumps(statement["Resource"])
        if "s3:PutObject" in actions_of([statement]):
            assert text.count("/runs/*/output/*") == 1, statement
        if "s3:ListBucket" in actions_of([statement]):
            assert statement["Condition"] == {"StringLike": {"s3:prefix": "runs/*"}}


def test_keys_go_only_to_the_keys_table_and_records_only_to_executions(
    resources: Resources,
) -> None:
    functions = functions_by_handler(resources)
    tables = {
        logical: resource["Properties"]["KeySchema"][0]["AttributeName"]
        for logical, resource in of_type(resources, "AWS::DynamoDB::Table").items()
    }

    def written_tables(module: str) -> set[str]:
        written = set()
        for statement in policy_statements(resources, functions[module]):
            if "dynamodb:PutItem" in actions_of([statement]):
                text = json.dumps(statement["Resource"])
                written |= {key for logical, key in tables.items() if logical in text}
        return written

    assert written_tables("import_key") == {"api_key_hash"}
    assert written_tables("import_execution") == {"execution_id"}


def test_every_import_route_is_a_put_method_on_its_own_resource(resources: Resources) -> None:
    functions = functions_by_handler(resources)
    methods = of_type(resources, "AWS::ApiGateway::Method")
    integrated = {
        json.dumps(method["Properties"]["Integration"]["Uri"]): method["Properties"]["HttpMethod"]
        for method in methods.values()
        if "Integration" in method["Properties"]
    }
    for module in IMPORTS:
        [method] = [m for uri, m in integrated.items() if functions[module] in uri]
        assert method == "PUT"
