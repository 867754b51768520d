"""DynamoDB implementations of the API key, execution and lock stores.

Tables (keys of the original design): APIKeys (`api_key_hash`, GSI `user_email-index`),
Executions (`execution_id` + `started_at`, GSIs `user_email-started_at` and
`status-started_at`), Locks (`lock_name`, TTL attribute `ttl`). Listings are index queries
with opaque cursors; nothing scans the executions table."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import error_code
from orchestrator.domain.cursors import decode_cursor, encode_cursor
from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import (
    ACTIVE_STATUSES,
    ApiKeyRecord,
    Execution,
    ExecutionStatus,
    Lock,
    Page,
    Role,
    RunningCount,
    settable_fields,
)

USER_INDEX = "user_email-started_at"
STATUS_INDEX = "status-started_at"
API_KEYS_EMAIL_INDEX = "user_email-index"
CONDITION_FAILED = "ConditionalCheckFailedException"
# With a filter, DynamoDB applies Limit before filtering: read in pages of this size.
FILTERED_PAGE = 200

Item = dict[str, dict[str, Any]]


def to_attribute(value: object) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


def from_attribute(attribute: dict[str, Any]) -> Any:
    kind, value = next(iter(attribute.items()))
    if kind == "N":
        return int(value)
    if kind == "NULL":
        return None
    if kind == "L":
        return [from_attribute(v) for v in value]
    return value


def to_item(data: Mapping[str, object]) -> Item:
    return {name: to_attribute(value) for name, value in data.items()}


def from_item(item: Item) -> dict[str, Any]:
    return {name: from_attribute(value) for name, value in item.items()}


def is_condition_failure(error: Exception) -> bool:
    return isinstance(error, ClientError) and error_code(error) == CONDITION_FAILED


class DynamoApiKeyStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, record: ApiKeyRecord) -> None:
        data = {**record.__dict__, "role": record.role.value}
        self._client.put_item(TableName=self._table, Item=to_item(data))

    def get(self, api_key_hash: str) -> ApiKeyRecord | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"api_key_hash": {"S": api_key_hash}},
            ConsistentRead=True,  # a revoked key must be refused on its very next request
        )
        return _api_key(response["Item"]) if "Item" in response else None

    def list_by_email(self, email: str) -> list[ApiKeyRecord]:
        items = _paginate(
            self._client.query,
            TableName=self._table,
            IndexName=API_KEYS_EMAIL_INDEX,
            KeyConditionExpression="user_email = :email",
            ExpressionAttributeValues={":email": {"S": email}},
        )
        return sorted((_api_key(item) for item in items), key=lambda r: r.created_at)

    def list_all(self) -> list[ApiKeyRecord]:
        # The key table holds one row per key: small, and only admins list it.
        items = _paginate(self._client.scan, TableName=self._table)
        return sorted((_api_key(item) for item in items), key=lambda r: r.created_at)

    def revoke(self, api_key_hash: str, revoked_at: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"api_key_hash": {"S": api_key_hash}},
            UpdateExpression="SET revoked = :yes, revoked_at = :at",
            ExpressionAttributeValues={":yes": {"BOOL": True}, ":at": {"S": revoked_at}},
        )

    def touch(self, api_key_hash: str, last_used: str) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"api_key_hash": {"S": api_key_hash}},
                UpdateExpression="SET last_used = :at",
                ConditionExpression="attribute_exists(api_key_hash) AND "
                "(attribute_not_exists(last_used) OR last_used = :null OR last_used < :at)",
                ExpressionAttributeValues={":at": {"S": last_used}, ":null": {"NULL": True}},
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise


class DynamoExecutionStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        # An item's key is (execution_id, started_at) and started_at never changes: updates
        # need it, and remembering it saves a read per update within one container.
        self._started_at: dict[str, str] = {}

    def create(self, execution: Execution) -> None:
        # The condition guards one (execution_id, started_at) item; ids are random UUIDs, and
        # this read makes a reused id a Conflict at any start time.
        if self.get(execution.execution_id) is not None:
            raise Conflict(f"execution {execution.execution_id} already exists")
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(execution.to_dict()),
                ConditionExpression="attribute_not_exists(execution_id)",
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise Conflict(f"execution {execution.execution_id} already exists") from error
            raise
        self._started_at[execution.execution_id] = execution.started_at

    def get(self, execution_id: str) -> Execution | None:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="execution_id = :id",
            ExpressionAttributeValues={":id": {"S": execution_id}},
            ConsistentRead=True,
            Limit=1,
        )
        items = response.get("Items", [])
        if not items:
            return None
        execution = _execution(items[0])
        self._started_at[execution_id] = execution.started_at
        return execution

    def _key_of(self, execution_id: str) -> Item | None:
        started_at = self._started_at.get(execution_id)
        if started_at is None:
            execution = self.get(execution_id)
            if execution is None:
                return None
            started_at = execution.started_at
        return {"execution_id": {"S": execution_id}, "started_at": {"S": started_at}}

    def advance(
        self,
        execution_id: str,
        status: ExecutionStatus,
        *,
        updated_at: str,
        **fields: object,
    ) -> Execution | None:
        key = self._key_of(execution_id)
        if key is None:
            return None
        sources = ExecutionStatus.sources_of(status)
        values = {"status": status.value, "updated_at": updated_at, **settable_fields(fields)}
        update, names, attributes = _set_expression(values)
        names["#current"] = "status"
        for index, source in enumerate(sources):
            attributes[f":from{index}"] = {"S": source.value}
        allowed = ", ".join(f":from{index}" for index in range(len(sources)))
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=update,
                ConditionExpression=f"#current IN ({allowed})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attributes,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        return _execution(response["Attributes"])

    def annotate(self, execution_id: str, **fields: object) -> None:
        values = settable_fields(fields)
        key = self._key_of(execution_id) if values else None
        if key is None:
            return
        update, names, attributes = _set_expression(values)
        self._client.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attributes,
        )

    def list_page(
        self,
        *,
        user_email: str | None,
        status: ExecutionStatus | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        if user_email is None and status is None:
            return self._list_everyone(limit, cursor)
        if user_email is not None:
            partition = (USER_INDEX, "user_email", user_email)
        else:
            assert status is not None
            partition = (STATUS_INDEX, "status", status.value)
        only = status if user_email is not None else None
        start = decode_cursor(cursor, ("key",))["key"] if cursor else None
        items = list(self._newest_first(*partition, start=start, status=only, wanted=limit + 1))
        page = items[:limit]
        next_cursor = (
            encode_cursor({"key": _index_key(page[-1], partition[1])})
            if len(items) > limit
            else None
        )
        return Page(items=page, next_cursor=next_cursor)

    def list_active(self) -> list[Execution]:
        active: list[Execution] = []
        for status in ACTIVE_STATUSES:
            active += self._newest_first(STATUS_INDEX, "status", status.value, start=None)
        return sorted(active, key=lambda e: e.started_at)

    def count_active(self, user_email: str) -> RunningCount:
        """One query per active status on the status index, reading only `user_email` of
        each item: the cost follows how many are active. The index is eventually consistent
        (an execution created a moment ago may not be counted yet)."""
        total = user = 0
        for status in ACTIVE_STATUSES:
            for item in _paginate(
                self._client.query,
                TableName=self._table,
                IndexName=STATUS_INDEX,
                KeyConditionExpression="#status = :status",
                ProjectionExpression="#user",
                ExpressionAttributeNames={"#status": "status", "#user": "user_email"},
                ExpressionAttributeValues={":status": {"S": status.value}},
            ):
                total += 1
                user += item.get("user_email", {}).get("S") == user_email
        return RunningCount(user=user, total=total)

    def _list_everyone(self, limit: int, cursor: str | None) -> Page:
        """Everyone's executions without a scan: merge the newest of each status partition of
        the status index. The cursor keeps a position per partition still open."""
        if cursor:
            positions: dict[str, Any] = decode_cursor(cursor, ("positions",))["positions"]
        else:
            positions = {status.value: None for status in ExecutionStatus}
        fetched = {
            status: list(
                self._newest_first(STATUS_INDEX, "status", status, start=start, wanted=limit + 1)
            )
            for status, start in positions.items()
        }
        merged = heapq.merge(
            *fetched.values(), key=lambda execution: execution.started_at, reverse=True
        )
        taken = [execution for _, execution in zip(range(limit + 1), merged, strict=False)]
        page = taken[:limit]
        if len(taken) <= limit:
            return Page(items=page, next_cursor=None)
        next_positions: dict[str, Any] = {}
        for status, items in fetched.items():
            consumed = [e for e in page if e.status.value == status]
            exhausted = len(items) <= limit and len(consumed) == len(items)
            if not exhausted:
                last = consumed[-1] if consumed else None
                next_positions[status] = _index_key(last, "status") if last else positions[status]
        return Page(items=page, next_cursor=encode_cursor({"positions": next_positions}))

    def _newest_first(
        self,
        index: str,
        partition_name: str,
        partition_value: str,
        *,
        start: dict[str, str] | None,
        status: ExecutionStatus | None = None,
        wanted: int | None = None,
    ) -> Iterator[Execution]:
        """Items of one index partition, newest first, from after `start`."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#partition = :partition",
            "ExpressionAttributeNames": {"#partition": partition_name},
            "ExpressionAttributeValues": {":partition": {"S": partition_value}},
            "ScanIndexForward": False,
        }
        if status is not None:
            request["FilterExpression"] = "#status = :status"
            request["ExpressionAttributeNames"]["#status"] = "status"
            request["ExpressionAttributeValues"][":status"] = {"S": status.value}
        if start:
            request["ExclusiveStartKey"] = to_item(start)
        produced = 0
        while True:
            if wanted is not None:
                request["Limit"] = wanted - produced if status is None else FILTERED_PAGE
            response = self._client.query(**request)
            for item in response.get("Items", []):
                yield _execution(item)
                produced += 1
                if wanted is not None and produced >= wanted:
                    return
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class DynamoLockStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def acquire(self, lock: Lock, now: datetime) -> Lock | None:
        for _ in range(3):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=to_item({**lock.to_dict(), "ttl": lock.ttl}),
                    ConditionExpression="attribute_not_exists(lock_name) OR #ttl < :now",
                    ExpressionAttributeNames={"#ttl": "ttl"},
                    ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
                )
                return None
            except ClientError as error:
                if not is_condition_failure(error):
                    raise
            holder = self.get(lock.lock_name)
            if holder is not None:
                return holder
            # Released between our attempt and the read: try again.
        raise Conflict(f"lock '{lock.lock_name}' is changing hands; try again")

    def release(self, lock_name: str, execution_id: str) -> bool:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"lock_name": {"S": lock_name}},
                ConditionExpression="execution_id = :id",
                ExpressionAttributeValues={":id": {"S": execution_id}},
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def get(self, lock_name: str) -> Lock | None:
        response = self._client.get_item(
            TableName=self._table, Key={"lock_name": {"S": lock_name}}, ConsistentRead=True
        )
        return _lock(response["Item"]) if "Item" in response else None

    def list_active(self, now: datetime) -> list[Lock]:
        # One row per lock name (DynamoDB's TTL deletes expired ones lazily): a small table.
        items = _paginate(
            self._client.scan,
            TableName=self._table,
            FilterExpression="#ttl >= :now",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
            ConsistentRead=True,
        )
        return sorted((_lock(item) for item in items), key=lambda lock: lock.lock_name)


def _paginate(operation: Any, **request: Any) -> Iterator[Item]:
    while True:
        response = operation(**request)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _set_expression(values: dict[str, object]) -> tuple[str, dict[str, str], Item]:
    names = {f"#f{index}": name for index, name in enumerate(values)}
    attributes = {f":v{index}": to_attribute(value) for index, value in enumerate(values.values())}
    assignments = ", ".join(f"#f{index} = :v{index}" for index in range(len(values)))
    return f"SET {assignments}", names, attributes


def _index_key(execution: Execution, partition_name: str) -> dict[str, str]:
    """ExclusiveStartKey of an index query that resumes right after `execution`."""
    partition = execution.user_email if partition_name == "user_email" else execution.status.value
    return {
        "execution_id": execution.execution_id,
        "started_at": execution.started_at,
        partition_name: partition,
    }


def _execution(item: Item) -> Execution:
    data = from_item(item)
    fields: dict[str, Any] = {name: data.get(name) for name in Execution.__dataclass_fields__}
    fields["status"] = ExecutionStatus(data["status"])
    fields["env_names"] = tuple(data.get("env_names") or ())
    fields["secret_names"] = tuple(data.get("secret_names") or ())
    return Execution(**fields)


def _api_key(item: Item) -> ApiKeyRecord:
    data = from_item(item)
    return ApiKeyRecord(
        api_key_hash=data["api_key_hash"],
        user_email=data["user_email"],
        role=Role(data["role"]),
        created_at=data["created_at"],
        revoked=bool(data.get("revoked", False)),
        revoked_at=data.get("revoked_at"),
        last_used=data.get("last_used"),
    )


def _lock(item: Item) -> Lock:
    data = from_item(item)
    return Lock(
        lock_name=data["lock_name"],
        execution_id=data["execution_id"],
        user_email=data["user_email"],
        acquired_at=data["acquired_at"],
        expires_at=data["expires_at"],
    )
