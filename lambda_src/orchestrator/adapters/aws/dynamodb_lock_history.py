"""Lock history in the LockQueue table (docs/locks.md). Each event is written twice, in one
transaction, so both listings are Queries on one partition, newest first:

- partition `#history`, sort `<at>#<lock>#<event id>`: every lock;
- partition `#history#<lock>`, sort `<at>#<event id>`: one lock.

Lock names never start with `#`, so these partitions never meet a lock's queue items."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.dynamodb_items import Item
from orchestrator.adapters.aws.dynamodb_slots import failed_checks, transact
from orchestrator.domain.lock_history import HistoryMark, LockAction, LockEvent

ALL_PARTITION = "#history"
_FIELDS = ("action", "user_email", "at", "holder_id", "holder_email", "event_id")


def lock_partition(lock_name: str) -> str:
    return f"{ALL_PARTITION}#{lock_name}"


def _all_sort(mark: HistoryMark) -> str:
    at, lock_name, event_id = mark
    return f"{at}#{lock_name}#{event_id}"


def _lock_sort(mark: HistoryMark) -> str:
    at, _, event_id = mark
    return f"{at}#{event_id}"


class DynamoLockHistory:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def record(self, event: LockEvent) -> None:
        try:
            transact(
                self._client,
                [
                    self._put(event, ALL_PARTITION, _all_sort(event.mark)),
                    self._put(event, lock_partition(event.lock_name), _lock_sort(event.mark)),
                ],
            )
        except ClientError as error:
            if not any(failed_checks(error)):
                raise
            # Recorded already (the same event id): nothing changes.

    def newest(
        self, lock_name: str | None, limit: int, before: HistoryMark | None
    ) -> list[LockEvent]:
        if lock_name is None:
            partition, sort = ALL_PARTITION, _all_sort
        else:
            partition, sort = lock_partition(lock_name), _lock_sort
        condition = "lock_name = :partition"
        values: Item = {":partition": {"S": partition}}
        if before is not None:
            condition += " AND #item < :before"
            values[":before"] = {"S": sort(before)}
        events: list[LockEvent] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#item": "item"} if before is not None else None,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
        request = {name: value for name, value in request.items() if value is not None}
        while len(events) < limit:
            response = self._client.query(**request, Limit=limit - len(events))
            events.extend(_event(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return events

    def _put(self, event: LockEvent, partition: str, sort: str) -> dict[str, Any]:
        item: Item = {
            "lock_name": {"S": partition},
            "item": {"S": sort},
            "event_lock": {"S": event.lock_name},
            **{name: {"S": str(getattr(event, name))} for name in _FIELDS},
        }
        if event.reason is not None:
            item["reason"] = {"S": event.reason}
        return {
            "Put": {
                "TableName": self._table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(#item)",
                "ExpressionAttributeNames": {"#item": "item"},
            }
        }


def _event(item: Item) -> LockEvent:
    return LockEvent(
        lock_name=item["event_lock"]["S"],
        action=LockAction(item["action"]["S"]),
        user_email=item["user_email"]["S"],
        at=item["at"]["S"],
        holder_id=item["holder_id"]["S"],
        holder_email=item["holder_email"]["S"],
        reason=item["reason"]["S"] if "reason" in item else None,
        event_id=item["event_id"]["S"],
    )
