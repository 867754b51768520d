"""DynamoDB implementations of the API key, execution and lock stores.

Tables (keys of the original design): APIKeys (`api_key_hash`, GSI `user_email-index`),
Executions (in dynamodb_executions.py), Locks (`lock_name`, TTL attribute `ttl`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.dynamodb_executions import DynamoExecutionStore
from orchestrator.adapters.aws.dynamodb_items import (
    CONDITION_FAILED,
    Item,
    from_attribute,
    from_item,
    is_condition_failure,
    paginate,
    to_attribute,
    to_item,
)
from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import ApiKeyRecord, Lock, Role

# Kept importable from here: the execution store and the item helpers moved to their modules.
__all__ = [
    "CONDITION_FAILED",
    "DynamoApiKeyStore",
    "DynamoExecutionStore",
    "DynamoLockStore",
    "Item",
    "from_attribute",
    "from_item",
    "is_condition_failure",
    "to_attribute",
    "to_item",
]

API_KEYS_EMAIL_INDEX = "user_email-index"


class DynamoApiKeyStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, record: ApiKeyRecord) -> None:
        data = {**record.__dict__, "role": record.role.value}
        self._client.put_item(TableName=self._table, Item=to_item(data))

    def add(self, record: ApiKeyRecord) -> None:
        data = {**record.__dict__, "role": record.role.value}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(data),
                ConditionExpression="attribute_not_exists(api_key_hash)",
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise Conflict(f"key hash {record.api_key_hash[:12]}… exists") from error
            raise

    def get(self, api_key_hash: str) -> ApiKeyRecord | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"api_key_hash": {"S": api_key_hash}},
            ConsistentRead=True,  # a revoked key must be refused on its very next request
        )
        return _api_key(response["Item"]) if "Item" in response else None

    def list_by_email(self, email: str) -> list[ApiKeyRecord]:
        items = paginate(
            self._client.query,
            TableName=self._table,
            IndexName=API_KEYS_EMAIL_INDEX,
            KeyConditionExpression="user_email = :email",
            ExpressionAttributeValues={":email": {"S": email}},
        )
        return sorted((_api_key(item) for item in items), key=lambda r: r.created_at)

    def list_all(self) -> list[ApiKeyRecord]:
        # The key table holds one row per key: small, and only admins list it.
        items = paginate(self._client.scan, TableName=self._table)
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
        items = paginate(
            self._client.scan,
            TableName=self._table,
            FilterExpression="#ttl >= :now",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
            ConsistentRead=True,
        )
        return sorted((_lock(item) for item in items), key=lambda lock: lock.lock_name)


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
        reason=data.get("reason"),
    )
