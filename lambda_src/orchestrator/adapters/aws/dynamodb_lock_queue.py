"""The lock queue in DynamoDB: a LockQueue table (partition `lock_name`, sort `item`) beside
the Locks table it promotes into (docs/locks.md).

Per lock, the items are:
- `meta`: `next` (the last arrival number given) and `length` (entries waiting);
- `q#<arrival:012d>`: an entry; a Query on the `q#` prefix reads the queue in arrival order;
- `x#<execution id>`: the execution's arrival number (one entry per execution and lock).

Enqueue takes the arrival number and a place (refused at the maximum length) in one
conditional update of `meta`, then writes the entry and its `x#` item in one transaction.
Promotion is one transaction: put the lock (only if free or expired), delete the head's
items (only if still there), take one from `length`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.dynamodb_items import (
    Item,
    from_item,
    is_condition_failure,
    paginate,
    to_item,
)
from orchestrator.adapters.aws.dynamodb_slots import CONFLICT_ATTEMPTS, failed_checks, transact
from orchestrator.domain.errors import Conflict, QueueFull
from orchestrator.domain.queue_entry import QueueEntry

META = "meta"
ENTRY_PREFIX = "q#"
MEMBER_PREFIX = "x#"
_ENTRY_FIELDS = ("execution_id", "user_email", "queued_at", "wait_until", "lock_seconds")


def _key(lock_name: str, item: str) -> Item:
    return {"lock_name": {"S": lock_name}, "item": {"S": item}}


def _entry_item(seq: int) -> str:
    return f"{ENTRY_PREFIX}{seq:012d}"


class DynamoLockQueue:
    def __init__(self, client: Any, table: str, locks_table: str) -> None:
        self._client = client
        self._table = table
        self._locks_table = locks_table

    def enqueue(self, entry: QueueEntry, max_length: int) -> int:
        if self._arrival(entry.lock_name, entry.execution_id) is not None:
            raise Conflict(f"{entry.execution_id} is queued for {entry.lock_name} already")
        seq, position = self._take_place(entry.lock_name, max_length)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": self._stored(entry, seq)}},
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                **_key(entry.lock_name, MEMBER_PREFIX + entry.execution_id),
                                "seq": {"N": str(seq)},
                            },
                            "ConditionExpression": "attribute_not_exists(#item)",
                            "ExpressionAttributeNames": {"#item": "item"},
                        }
                    },
                ]
            )
        except ClientError as error:
            self._client.update_item(**self._give_place_back(entry.lock_name)["Update"])
            if any(failed_checks(error)):
                raise Conflict(
                    f"{entry.execution_id} is queued for {entry.lock_name} already"
                ) from error
            raise
        return position

    def entries(self, lock_name: str) -> list[QueueEntry]:
        items = paginate(
            self._client.query,
            TableName=self._table,
            KeyConditionExpression="lock_name = :lock AND begins_with(#item, :prefix)",
            ExpressionAttributeNames={"#item": "item"},
            ExpressionAttributeValues={
                ":lock": {"S": lock_name},
                ":prefix": {"S": ENTRY_PREFIX},
            },
            ConsistentRead=True,
        )
        return [_entry(item).at(n) for n, item in enumerate(items, start=1)]

    def remove(self, lock_name: str, execution_id: str) -> bool:
        seq = self._arrival(lock_name, execution_id)
        if seq is None:
            return False
        try:
            transact(self._client, self._leave(lock_name, execution_id, seq))
        except ClientError as error:
            if any(failed_checks(error)):
                return False  # removed or promoted meanwhile
            raise
        return True

    def promote_head(self, lock_name: str, now: datetime) -> QueueEntry | None:
        for _ in range(CONFLICT_ATTEMPTS):
            head = self._head(lock_name)
            if head is None:
                return None
            seq, entry = head
            lock = entry.lock_from(now)
            take_lock = {
                "Put": {
                    "TableName": self._locks_table,
                    "Item": to_item({**lock.to_dict(), "ttl": lock.ttl}),
                    "ConditionExpression": "attribute_not_exists(lock_name) OR #ttl < :now",
                    "ExpressionAttributeNames": {"#ttl": "ttl"},
                    "ExpressionAttributeValues": {":now": {"N": str(int(now.timestamp()))}},
                }
            }
            try:
                transact(
                    self._client, [take_lock, *self._leave(lock_name, entry.execution_id, seq)]
                )
            except ClientError as error:
                checks = failed_checks(error)
                if not checks:
                    raise
                if checks[0]:
                    return None  # the lock is held
                continue  # the head left meanwhile: look again
            return entry.at(1)
        raise Conflict(f"the queue of lock '{lock_name}' is changing; try again")

    def waiting_locks(self) -> list[str]:
        items = paginate(
            self._client.scan,
            TableName=self._table,
            FilterExpression="#item = :meta AND #length > :zero",
            ExpressionAttributeNames={"#item": "item", "#length": "length"},
            ExpressionAttributeValues={":meta": {"S": META}, ":zero": {"N": "0"}},
            ConsistentRead=True,
        )
        return sorted(item["lock_name"]["S"] for item in items)

    def _take_place(self, lock_name: str, max_length: int) -> tuple[int, int]:
        """The next arrival number and the position it has, refused at `max_length`."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(lock_name, META),
                UpdateExpression="ADD #next :one, #length :one",
                ConditionExpression="attribute_not_exists(#length) OR #length < :max",
                ExpressionAttributeNames={"#next": "next", "#length": "length"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":max": {"N": str(max_length)}},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise QueueFull(f"{max_length} runs wait for lock '{lock_name}' already") from error
            raise
        values = response["Attributes"]
        return int(values["next"]["N"]), int(values["length"]["N"])

    def _give_place_back(self, lock_name: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": _key(lock_name, META),
                "UpdateExpression": "SET #length = #length - :one",
                "ConditionExpression": "#length > :zero",
                "ExpressionAttributeNames": {"#length": "length"},
                "ExpressionAttributeValues": {":zero": {"N": "0"}, ":one": {"N": "1"}},
            }
        }

    def _leave(self, lock_name: str, execution_id: str, seq: int) -> list[dict[str, Any]]:
        """The transaction items taking the entry out: each refused if it is gone already."""
        gone = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": _key(lock_name, item),
                    "ConditionExpression": "attribute_exists(#item)",
                    "ExpressionAttributeNames": {"#item": "item"},
                }
            }
            for item in (_entry_item(seq), MEMBER_PREFIX + execution_id)
        ]
        return [*gone, self._give_place_back(lock_name)]

    def _head(self, lock_name: str) -> tuple[int, QueueEntry] | None:
        items = self._client.query(
            TableName=self._table,
            KeyConditionExpression="lock_name = :lock AND begins_with(#item, :prefix)",
            ExpressionAttributeNames={"#item": "item"},
            ExpressionAttributeValues={":lock": {"S": lock_name}, ":prefix": {"S": ENTRY_PREFIX}},
            ConsistentRead=True,
            Limit=1,
        ).get("Items", [])
        if not items:
            return None
        return int(items[0]["seq"]["N"]), _entry(items[0])

    def _arrival(self, lock_name: str, execution_id: str) -> int | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=_key(lock_name, MEMBER_PREFIX + execution_id),
            ConsistentRead=True,
        ).get("Item")
        return int(item["seq"]["N"]) if item else None

    def _stored(self, entry: QueueEntry, seq: int) -> Item:
        fields = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
        return {**_key(entry.lock_name, _entry_item(seq)), **to_item({**fields, "seq": seq})}


def _entry(item: Item) -> QueueEntry:
    data = from_item(item)
    return QueueEntry(lock_name=data["lock_name"], **{name: data[name] for name in _ENTRY_FIELDS})
