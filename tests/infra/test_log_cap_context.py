"""The log cap's context value reaches the logs function: mycli:maxLogMib -> PlatformConfig ->
MAX_LOG_BYTES in the functions' environment -> AwsSettings -> the CloudWatch log reader."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.adapters.aws.settings import AwsSettings
from stacks.config import ConfigError, PlatformConfig


def logs_function_variables(template: Any) -> dict[str, str]:
    functions = template.find_resources("AWS::Lambda::Function")
    logs = next(
        f
        for f in functions.values()
        if f["Properties"]["Handler"].endswith("get_execution_logs.handler")
    )
    variables: dict[str, str] = logs["Properties"]["Environment"]["Variables"]
    return variables


def test_the_default_cap_is_100_mib_on_both_sides(template: Any) -> None:
    assert logs_function_variables(template)["MAX_LOG_BYTES"] == str(100 * 1024 * 1024)
    assert AwsSettings().max_log_bytes == 100 * 1024 * 1024


def test_the_context_value_sets_the_cap_the_logs_function_reads() -> None:
    config = PlatformConfig.from_context({"mycli:maxLogMib": "5"}.get)

    variables = {"MAX_LOG_BYTES": str(config.max_log_mib * 1024 * 1024)}

    assert AwsSettings.from_environment(variables).max_log_bytes == 5 * 1024 * 1024


def test_a_cap_below_one_mib_is_refused() -> None:
    with pytest.raises(ConfigError, match="maxLogMib"):
        PlatformConfig.from_context({"mycli:maxLogMib": 0}.get)
