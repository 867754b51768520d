"""The stack's alarms: each counts what happened in its period (so it fires again for the
next failure) and notifies the SNS topic named by mycli:alarmTopicArn, when one is given."""

from __future__ import annotations

from typing import Any

import pytest
from tests.infra.conftest import synthesize

from stacks.config import ConfigError, PlatformConfig

TOPIC = "arn:aws:sns:eu-west-1:123456789012:mycli-alarms"


def alarms(resources: dict[str, Any]) -> list[dict[str, Any]]:
    found = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    ]
    assert found, "the stack has no alarm"
    return found


def test_the_dead_letter_alarm_counts_messages_sent_not_messages_visible(
    resources: dict[str, Any],
) -> None:
    [alarm] = alarms(resources)

    # A message kept 14 days would hold "visible" in ALARM, so it never fired again:
    # the sum sent in each period goes back to 0 and fires anew for the next failure.
    assert alarm["Namespace"] == "AWS/SQS"
    assert (alarm["MetricName"], alarm["Statistic"]) == ("NumberOfMessagesSent", "Sum")
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["Period"]) == (1, 1, 300)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_without_a_topic_no_alarm_has_an_action(resources: dict[str, Any]) -> None:
    assert all("AlarmActions" not in alarm for alarm in alarms(resources))


def test_every_alarm_notifies_the_topic_given_by_context() -> None:
    resources = synthesize(**{"mycli:alarmTopicArn": TOPIC}).to_json()["Resources"]

    assert all(alarm["AlarmActions"] == [TOPIC] for alarm in alarms(resources))
    assert not [r for r in resources.values() if r["Type"] == "AWS::SNS::Topic"]  # not made


@pytest.mark.parametrize(
    "value",
    ["mycli-alarms", "arn:aws:sqs:eu-west-1:123456789012:q", TOPIC + ".fifo", TOPIC + " x"],
)
def test_a_topic_arn_that_is_not_one_is_refused_naming_the_key(value: str) -> None:
    with pytest.raises(ConfigError, match="mycli:alarmTopicArn"):
        PlatformConfig.from_context({"mycli:alarmTopicArn": value}.get)
