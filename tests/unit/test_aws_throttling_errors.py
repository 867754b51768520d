"""Which AWS errors the API answers as throttling (429 `throttled`): botocore's own
throttling codes, any HTTP 429, and a DynamoDB transaction cancelled by a throttled item;
built as botocore builds them (ClientError from a parsed error response)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.retries.standard import ThrottledRetryableChecker

from orchestrator.api.errors import THROTTLING_CODES, as_throttled
from orchestrator.domain.errors import Throttled


def aws_error(code: str, status: int = 400, **fields: Any) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": "..."},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **fields,
    }
    return ClientError(response, "AnOperation")  # type: ignore[arg-type]


def test_the_codes_are_the_ones_botocore_treats_as_throttling() -> None:
    assert frozenset(ThrottledRetryableChecker._THROTTLED_ERROR_CODES) == THROTTLING_CODES


@pytest.mark.parametrize("code", sorted(THROTTLING_CODES))
def test_each_throttling_code_is_throttled(code: str) -> None:
    throttled = as_throttled(aws_error(code))

    assert isinstance(throttled, Throttled)
    assert code in throttled.message


def test_any_code_answered_with_http_429_is_throttled() -> None:
    assert as_throttled(aws_error("SomethingNew", 429)) is not None


def test_a_transaction_cancelled_by_a_throttled_item_is_throttled() -> None:
    reasons = [{"Code": "None"}, {"Code": "ThrottlingError", "Message": "Throughput exceeds"}]

    error = aws_error("TransactionCanceledException", CancellationReasons=reasons)

    assert as_throttled(error) is not None


@pytest.mark.parametrize(
    "error",
    [
        aws_error("ConditionalCheckFailedException"),
        aws_error("TransactionCanceledException", CancellationReasons=[{"Code": "None"}]),
        aws_error("InternalServerError", 500),
        aws_error("AccessDeniedException", 403),
        RuntimeError("ThrottlingException: Rate exceeded"),
    ],
    ids=["condition", "transaction-condition", "internal", "denied", "not-aws"],
)
def test_other_errors_are_not(error: Exception) -> None:
    assert as_throttled(error) is None
