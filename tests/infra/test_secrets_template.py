"""Template assertions for secrets: the stack's secrets key, each secrets function's SSM
rights on the stack's path only, the key usable only through SSM for that path."""

from __future__ import annotations

import json
from typing import Any

from test_template import LAUNCHERS, actions_of, functions_by_handler, of_type, policy_statements

Resources = dict[str, Any]
SSM_ACTIONS = {
    "put_secret": {"ssm:PutParameter", "ssm:DeleteParameter"},
    "list_secrets": {"ssm:GetParametersByPath"},
    "delete_secret": {"ssm:GetParameters", "ssm:DeleteParameters"},
    # A run's secrets, read at its launch (created, or promoted from a lock's queue).
    **{module: {"ssm:GetParameters"} for module in LAUNCHERS},
}


def secrets_key(resources: Resources) -> str:
    keys = of_type(resources, "AWS::KMS::Key")
    return next(k for k, v in keys.items() if "stored secrets" in v["Properties"]["Description"])


def parameter_paths(statement: dict[str, Any]) -> list[str]:
    """The parameter part of each resource ARN (Fn::Join of the partition, region, ...)."""
    resources = statement["Resource"]
    resources = resources if isinstance(resources, list) else [resources]
    return ["".join(str(p) for p in r["Fn::Join"][1]).split(":parameter", 1)[1] for r in resources]


def test_the_secrets_key_rotates_and_is_not_the_env_key(resources: Resources) -> None:
    key = resources[secrets_key(resources)]["Properties"]

    assert key["EnableKeyRotation"] is True
    assert len(of_type(resources, "AWS::KMS::Key")) == 2


def test_only_the_secrets_functions_and_launchers_use_ssm_and_only_under_the_stacks_path(
    resources: Resources,
) -> None:
    for module, function_id in functions_by_handler(resources).items():
        statements = policy_statements(resources, function_id)
        ssm = [s for s in statements if any(a.startswith("ssm:") for a in actions_of([s]))]
        assert actions_of(ssm) == SSM_ACTIONS.get(module, set()), module
        for statement in ssm:
            for path in parameter_paths(statement):
                assert path.startswith("/mycli/Mycli/secret"), (module, path)


def test_values_are_read_only_by_launchers_and_written_only_by_put(resources: Resources) -> None:
    functions = functions_by_handler(resources)

    def paths(module: str, action: str) -> set[str]:
        statements = policy_statements(resources, functions[module])
        return {
            path for s in statements if action in actions_of([s]) for path in parameter_paths(s)
        }

    for launcher in LAUNCHERS:
        assert paths(launcher, "ssm:GetParameters") == {
            "/mycli/Mycli/secrets/*",
            "/mycli/Mycli/secret-meta/*",
        }
    assert paths("delete_secret", "ssm:GetParameters") == {"/mycli/Mycli/secret-meta/*"}
    assert paths("list_secrets", "ssm:GetParametersByPath") == {"/mycli/Mycli/secret-meta"}
    assert paths("put_secret", "ssm:PutParameter") == {
        "/mycli/Mycli/secrets/*",
        "/mycli/Mycli/secret-meta/*",
    }
    # a value whose metadata could not be written is rolled back: values only
    assert paths("put_secret", "ssm:DeleteParameter") == {"/mycli/Mycli/secrets/*"}


def test_the_secrets_key_is_usable_only_through_ssm_for_the_stacks_secrets(
    resources: Resources,
) -> None:
    key = secrets_key(resources)
    uses: dict[str, set[str]] = {}
    for module, function_id in functions_by_handler(resources).items():
        for statement in policy_statements(resources, function_id):
            if key not in json.dumps(statement["Resource"]):
                continue
            uses.setdefault(module, set()).update(actions_of([statement]))
            condition = statement["Condition"]
            assert condition["StringEquals"]["kms:ViaService"] == {
                "Fn::Join": ["", ["ssm.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]
            }
            [arn] = [condition["StringLike"]["kms:EncryptionContext:PARAMETER_ARN"]]
            assert parameter_paths({"Resource": arn}) == ["/mycli/Mycli/secrets/*"]

    assert uses == {
        "put_secret": {"kms:Encrypt", "kms:GenerateDataKey"},
        **{module: {"kms:Decrypt"} for module in LAUNCHERS},
    }


def test_every_function_knows_the_secrets_path_and_key(resources: Resources) -> None:
    key = secrets_key(resources)
    for function_id in functions_by_handler(resources).values():
        variables = resources[function_id]["Properties"]["Environment"]["Variables"]
        assert variables["SECRETS_PATH"] == "/mycli/Mycli/"
        assert variables["SECRETS_KEY_ARN"] == {"Fn::GetAtt": [key, "Arn"]}


def test_no_function_logs_its_events_or_the_gateway_its_bodies(resources: Resources) -> None:
    for function_id in functions_by_handler(resources).values():
        variables = resources[function_id]["Properties"]["Environment"]["Variables"]
        assert variables.get("POWERTOOLS_LOGGER_LOG_EVENT", "false") == "false"
    [stage] = of_type(resources, "AWS::ApiGateway::Stage").values()
    for setting in stage["Properties"].get("MethodSettings", []):
        assert setting.get("DataTraceEnabled") is not True
