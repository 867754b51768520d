"""Template assertions for runs' KMS grants: the functions that end runs (the launchers, on a
failed launch; task events; the reaper) may revoke grants on the env key, only the reaper may list
them (its sweep), and nothing else may do either, on any key."""

from __future__ import annotations

from typing import Any

import pytest
from test_template import actions_of, functions_by_handler, of_type, policy_statements

Resources = dict[str, Any]
GRANTS = {"kms:RevokeGrant", "kms:ListGrants"}
GRANT_ACTIONS = {
    "create_execution": {"kms:RevokeGrant"},
    "task_events": {"kms:RevokeGrant"},
    "cancel_execution": {"kms:RevokeGrant"},  # a promoted run's failed launch
    "release_lock": {"kms:RevokeGrant"},
    "reaper": {"kms:RevokeGrant", "kms:ListGrants"},
}


def env_key(resources: Resources) -> str:
    keys = of_type(resources, "AWS::KMS::Key")
    return next(k for k, v in keys.items() if "env values" in v["Properties"]["Description"])


@pytest.mark.parametrize("module", sorted(GRANT_ACTIONS))
def test_the_functions_that_end_runs_may_revoke_grants_on_the_env_key_only(
    resources: Resources, module: str
) -> None:
    function_id = functions_by_handler(resources)[module]
    granting = [s for s in policy_statements(resources, function_id) if actions_of([s]) & GRANTS]

    assert actions_of(granting) & GRANTS == GRANT_ACTIONS[module]
    for statement in granting:  # (CDK merges create's with its kms:Encrypt on the same key)
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] == {"Fn::GetAtt": [env_key(resources), "Arn"]}
        assert actions_of([statement]) - GRANTS <= {"kms:Encrypt"}


def test_no_other_function_may_revoke_or_list_grants(resources: Resources) -> None:
    for module, function_id in functions_by_handler(resources).items():
        actions = actions_of(policy_statements(resources, function_id))
        wanted = GRANT_ACTIONS.get(module, set())
        assert actions & GRANTS == wanted, module
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert not actions_of([statement]) & {"kms:RetireGrant", "kms:ListRetirableGrants"}
