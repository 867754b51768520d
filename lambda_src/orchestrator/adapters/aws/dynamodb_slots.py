"""Running slots and Idempotency-Key markers, items of the Executions table (one table).

Their ids are reserved: they hold a `#`, which no execution id has (32 hex characters),
their sort value is fixed, and they carry neither `status` nor `user_email`, so they enter
no index and no listing.

- `quota#total` and `quota#user#<email>` count running slots (`running`). Only conditional
  writes change them, in the same transaction as an execution's create (+1, refused at the
  limit) or as its move to a terminal status (-1, never below zero).
- `quota_slot` marks an execution item that holds a slot. The terminal transition removes
  it in the transaction that gives the slot back: a replayed transition gives back nothing,
  and an item made before the counters existed (no marker) never touches them.
- `idempotency#<execution id>` is a key's marker; `expires_at_epoch` is the table's TTL."""

from __future__ import annotations

import random
import time
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import error_code
from orchestrator.adapters.aws.dynamodb_items import Item, is_condition_failure
from orchestrator.domain.errors import Conflict
from orchestrator.domain.idempotency import IdempotencyMarker
from orchestrator.domain.models import RunningCount, parse_iso
from orchestrator.domain.quota import RunningLimits

RESERVED_MARK = "#"
FIXED_SORT = "-"
TOTAL_COUNTER = "quota#total"
SLOT = "quota_slot"
RUNNING = "running"
TTL_ATTRIBUTE = "expires_at_epoch"
CHECK_FAILED = "ConditionalCheckFailed"
CANCELLED = "TransactionCanceledException"
# Transactions on one counter may collide (TransactionConflict): tried again this often.
CONFLICT_ATTEMPTS = 6


def user_counter(user_email: str) -> str:
    return f"quota#user#{user_email}"


def marker_id(execution_id: str) -> str:
    return f"idempotency#{execution_id}"


def reserved_key(item_id: str) -> Item:
    return {"execution_id": {"S": item_id}, "started_at": {"S": FIXED_SORT}}


def take_slot(table: str, counter: str, limit: int | None) -> dict[str, Any]:
    """The transaction item adding one to `counter`, refused when it is at `limit`."""
    update: dict[str, Any] = {
        "TableName": table,
        "Key": reserved_key(counter),
        "UpdateExpression": "SET #running = if_not_exists(#running, :zero) + :one",
        "ExpressionAttributeNames": {"#running": RUNNING},
        "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}},
    }
    if limit is not None:
        update["ConditionExpression"] = "attribute_not_exists(#running) OR #running < :limit"
        update["ExpressionAttributeValues"][":limit"] = {"N": str(limit)}
    return {"Update": update}


def give_back(table: str, counter: str) -> dict[str, Any]:
    """The transaction item taking one from `counter`, refused at zero."""
    return {
        "Update": {
            "TableName": table,
            "Key": reserved_key(counter),
            "UpdateExpression": "SET #running = #running - :one",
            "ConditionExpression": "#running > :zero",
            "ExpressionAttributeNames": {"#running": RUNNING},
            "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}},
        }
    }


def held_by(table: str, execution_id: str, owner: str) -> dict[str, Any]:
    """The transaction item requiring the execution id's marker to be `owner`'s."""
    return {
        "ConditionCheck": {
            "TableName": table,
            "Key": reserved_key(marker_id(execution_id)),
            "ConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {":owner": {"S": owner}},
        }
    }


def slot_limits(user_email: str, limits: RunningLimits | None) -> list[tuple[str, int | None]]:
    """The counters a new execution takes a slot of, each with its limit."""
    return [
        (user_counter(user_email), limits.per_user if limits else None),
        (TOTAL_COUNTER, limits.total if limits else None),
    ]


def failed_checks(error: ClientError) -> list[bool]:
    """Which items of a cancelled transaction failed their condition (empty when the
    error is not a cancelled transaction)."""
    if error_code(error) != CANCELLED:
        return []
    reasons = error.response.get("CancellationReasons") or []
    return [reason.get("Code") == CHECK_FAILED for reason in reasons]


def transact(client: Any, writes: list[dict[str, Any]]) -> None:
    """TransactWriteItems, tried again (with jitter) while it only collides with other
    transactions on the same items."""
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            client.transact_write_items(TransactItems=writes)
            return
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or []
            codes = {reason.get("Code") for reason in reasons}
            if "TransactionConflict" not in codes or CHECK_FAILED in codes:
                raise
            if attempt == CONFLICT_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))


class DynamoSlots:
    """The counters and markers of one Executions table."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def counts(self, user_email: str) -> RunningCount:
        """The running slots taken, by `user_email` and by everyone (consistent reads)."""
        return RunningCount(
            user=self._counter(user_counter(user_email)), total=self._counter(TOTAL_COUNTER)
        )

    def _counter(self, counter: str) -> int:
        item = self._client.get_item(
            TableName=self._table, Key=reserved_key(counter), ConsistentRead=True
        ).get("Item")
        return int(item[RUNNING]["N"]) if item and RUNNING in item else 0

    def claim_marker(
        self, marker: IdempotencyMarker, stale_before: str
    ) -> IdempotencyMarker | None:
        item = {
            **reserved_key(marker_id(marker.execution_id)),
            "fingerprint": {"S": marker.fingerprint},
            "owner": {"S": marker.owner},
            "claimed_at": {"S": marker.claimed_at},
            "expires_at": {"S": marker.expires_at},
            TTL_ATTRIBUTE: {"N": str(int(parse_iso(marker.expires_at).timestamp()))},
        }
        # A marker released between the refused put and the read of it: put again.
        for _ in range(CONFLICT_ATTEMPTS):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(execution_id) OR claimed_at < :stale",
                    ExpressionAttributeValues={":stale": {"S": stale_before}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return None
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
                holder = error.response.get("Item") or self._marker_item(marker.execution_id)
            if holder is not None:
                return _marker(marker.execution_id, holder)
        raise Conflict("a request with this Idempotency-Key is in progress")

    def release_marker(self, execution_id: str, owner: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=reserved_key(marker_id(execution_id)),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    def _marker_item(self, execution_id: str) -> Item | None:
        item: Item | None = self._client.get_item(
            TableName=self._table, Key=reserved_key(marker_id(execution_id)), ConsistentRead=True
        ).get("Item")
        return item


def _marker(execution_id: str, item: Item) -> IdempotencyMarker:
    return IdempotencyMarker(
        execution_id=execution_id,
        fingerprint=item["fingerprint"]["S"],
        owner=item["owner"]["S"],
        claimed_at=item["claimed_at"]["S"],
        expires_at=item["expires_at"]["S"],
    )
