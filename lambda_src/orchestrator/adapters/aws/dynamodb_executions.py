"""The DynamoDB execution store: Executions (`execution_id` + `started_at`, GSIs
`user_email-started_at` and `status-started_at`). Listings are index queries with opaque
cursors; nothing scans the table. The running-slot counters and the Idempotency-Keys'
markers are items of the same table (dynamodb_slots.py)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.dynamodb_items import (
    Item,
    from_item,
    is_condition_failure,
    set_expression,
    to_item,
)
from orchestrator.adapters.aws.dynamodb_slots import (
    RESERVED_MARK,
    SLOT,
    TOTAL_COUNTER,
    DynamoSlots,
    failed_checks,
    give_back,
    held_by,
    slot_limits,
    take_slot,
    transact,
    user_counter,
)
from orchestrator.domain.cursors import decode_cursor, encode_cursor
from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import (
    ACTIVE_STATUSES,
    Execution,
    ExecutionStatus,
    Page,
    RunningCount,
    settable_fields,
)
from orchestrator.domain.quota import RunningLimits

USER_INDEX = "user_email-started_at"
STATUS_INDEX = "status-started_at"
# With a filter, DynamoDB applies Limit before filtering: read in pages of this size.
FILTERED_PAGE = 200


class DynamoExecutionStore(DynamoSlots):
    """Executions, and their running slots and Idempotency-Key markers (DynamoSlots)."""

    def __init__(self, client: Any, table: str) -> None:
        super().__init__(client, table)
        self._client = client
        self._table = table
        # An item's key is (execution_id, started_at) and neither started_at nor user_email
        # ever changes: updates need them, and remembering them saves a read per update.
        self._known: dict[str, tuple[str, str]] = {}

    def create(
        self,
        execution: Execution,
        *,
        limits: RunningLimits | None = None,
        claimed_by: str | None = None,
    ) -> None:
        """One transaction: the item (with its slot marker), +1 on the user's and the total
        counter (each refused at its limit), and the key's marker check."""
        # The put's condition guards one (execution_id, started_at) item; the key's marker
        # (claimed_by) or this read makes a reused id a Conflict at any start time.
        if self.get(execution.execution_id) is not None:
            raise Conflict(f"execution {execution.execution_id} already exists")
        takes_slot = not execution.status.is_terminal
        item = _execution_item(execution)
        if takes_slot:
            item[SLOT] = True
        writes = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(item),
                    "ConditionExpression": "attribute_not_exists(execution_id)",
                }
            }
        ]
        counters = slot_limits(execution.user_email, limits) if takes_slot else []
        writes += [take_slot(self._table, counter, limit) for counter, limit in counters]
        if claimed_by is not None:
            writes.append(held_by(self._table, execution.execution_id, claimed_by))
        try:
            transact(self._client, writes)
        except ClientError as error:
            failed = failed_checks(error)
            if not any(failed):
                raise
            if failed[0]:
                raise Conflict(f"execution {execution.execution_id} already exists") from error
            if claimed_by is not None and failed[-1]:
                raise Conflict(
                    f"execution {execution.execution_id}: the Idempotency-Key's marker is "
                    "another request's"
                ) from error
            assert limits is not None  # only a limited counter can refuse
            counts = self._refused_counts(execution.user_email, limits, failed)
            raise limits.refusal(counts) from error
        self._known[execution.execution_id] = (execution.started_at, execution.user_email)

    def _refused_counts(
        self, user_email: str, limits: RunningLimits, failed: list[bool]
    ) -> RunningCount:
        """The counts behind a refused create: read again, and at least the limit of each
        counter that refused (one may have come down since)."""
        now = self.counts(user_email)
        return RunningCount(
            user=max(now.user, limits.per_user) if failed[1] else now.user,
            total=max(now.total, limits.total) if failed[2] else now.total,
        )

    def get(self, execution_id: str) -> Execution | None:
        if RESERVED_MARK in execution_id:
            return None  # a counter or a marker, never an execution
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
        self._known[execution_id] = (execution.started_at, execution.user_email)
        return execution

    def _key_of(self, execution_id: str) -> Item | None:
        known = self._known.get(execution_id)
        if known is None and self.get(execution_id) is None:
            return None
        started_at, _ = self._known[execution_id]
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
        update, names, attributes = set_expression(values)
        names["#current"] = "status"
        for index, source in enumerate(sources):
            attributes[f":from{index}"] = {"S": source.value}
        allowed = ", ".join(f":from{index}" for index in range(len(sources)))
        condition = f"#current IN ({allowed})"
        if status.is_terminal:
            names["#slot"] = SLOT
            transition = {
                "TableName": self._table,
                "Key": key,
                "UpdateExpression": f"{update} REMOVE #slot",
                "ConditionExpression": f"{condition} AND attribute_exists(#slot)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": attributes,
            }
            if self._gave_back_slot(execution_id, transition):
                return self.get(execution_id)
            # An item holding no slot: made before the counters, or already released.
            condition += " AND attribute_not_exists(#slot)"
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attributes,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        return _execution(response["Attributes"])

    def _gave_back_slot(self, execution_id: str, transition: dict[str, Any]) -> bool:
        """Apply `transition` (terminal, removing the slot marker, only where there is one)
        in one transaction that takes one from each counter still above zero. False when
        the item holds no slot or the transition does not apply."""
        _, user_email = self._known[execution_id]
        counters = [user_counter(user_email), TOTAL_COUNTER]
        while True:
            writes = [{"Update": transition}, *(give_back(self._table, c) for c in counters)]
            try:
                transact(self._client, writes)
                return True
            except ClientError as error:
                failed = failed_checks(error)
                if not any(failed):
                    raise
                if failed[0]:
                    return False
                # A counter already at zero (reset by hand): never below it.
                counters = [
                    c for c, refused in zip(counters, failed[1:], strict=True) if not refused
                ]

    def annotate(self, execution_id: str, **fields: object) -> None:
        values = settable_fields(fields)
        key = self._key_of(execution_id) if values else None
        if key is None:
            return
        update, names, attributes = set_expression(values)
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
        """The counters: two consistent reads. Executions made before the counters existed
        (no slot marker) are not counted."""
        return self.counts(user_email)

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


def _index_key(execution: Execution, partition_name: str) -> dict[str, str]:
    """ExclusiveStartKey of an index query that resumes right after `execution`."""
    partition = execution.user_email if partition_name == "user_email" else execution.status.value
    return {
        "execution_id": execution.execution_id,
        "started_at": execution.started_at,
        partition_name: partition,
    }


def _execution_item(execution: Execution) -> dict[str, object]:
    """What an execution item holds: the record, and the fingerprint of an idempotent
    create's request (stored, never shown, so not in `to_dict`; absent on older items)."""
    data = execution.to_dict()
    if execution.request_fingerprint is not None:
        data["request_fingerprint"] = execution.request_fingerprint
    return data


def _execution(item: Item) -> Execution:
    data = from_item(item)
    fields: dict[str, Any] = {name: data.get(name) for name in Execution.__dataclass_fields__}
    fields["status"] = ExecutionStatus(data["status"])
    fields["env_names"] = tuple(data.get("env_names") or ())
    fields["secret_names"] = tuple(data.get("secret_names") or ())
    return Execution(**fields)
