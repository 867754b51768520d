"""The DynamoDB execution store: Executions (`execution_id` + `started_at`, GSIs
`user_email-started_at` and `status-started_at`). Listings are index queries with opaque
cursors (dynamodb_listing.py); nothing scans the table. The running-slot counters and the
Idempotency-Keys' markers are items of the same table (dynamodb_slots.py)."""

from __future__ import annotations

from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.dynamodb_items import (
    Item,
    is_condition_failure,
    set_expression,
    to_item,
)
from orchestrator.adapters.aws.dynamodb_listing import (
    ExecutionListing,
    execution_from_item,
    execution_item,
    stored_value,
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
from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import (
    Execution,
    ExecutionStatus,
    Page,
    RunningCount,
    settable_fields,
)
from orchestrator.domain.quota import RunningLimits


class DynamoExecutionStore(DynamoSlots):
    """Executions, and their running slots and Idempotency-Key markers (DynamoSlots)."""

    def __init__(self, client: Any, table: str) -> None:
        super().__init__(client, table)
        self._client = client
        self._table = table
        # An item's key is (execution_id, started_at) and neither started_at nor user_email
        # ever changes: updates need them, and remembering them saves a read per update.
        self._known: dict[str, _Known] = {}
        self._listing = ExecutionListing(client, table)

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
        item = execution_item(execution)
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
        self._known[execution.execution_id] = _known(execution)

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
        execution = execution_from_item(items[0])
        self._known[execution_id] = _known(execution)
        return execution

    def _key_of(self, execution_id: str) -> Item | None:
        known = self._known.get(execution_id)
        if known is None and self.get(execution_id) is None:
            return None
        started_at = self._known[execution_id].started_at
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
        purpose = self._known[execution_id].purpose
        sources = ExecutionStatus.sources_of(status)
        stored = stored_value(status.value, purpose)
        values = {"status": stored, "updated_at": updated_at, **settable_fields(fields)}
        update, names, attributes = set_expression(values)
        names["#current"] = "status"
        for index, source in enumerate(sources):
            attributes[f":from{index}"] = {"S": stored_value(source.value, purpose)}
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
        return execution_from_item(response["Attributes"])

    def _gave_back_slot(self, execution_id: str, transition: dict[str, Any]) -> bool:
        """Apply `transition` (terminal, removing the slot marker, only where there is one)
        in one transaction that takes one from each counter still above zero. False when
        the item holds no slot or the transition does not apply."""
        counters = [user_counter(self._known[execution_id].user_email), TOTAL_COUNTER]
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
        include_checks: bool = False,
    ) -> Page:
        return self._listing.page(
            user_email=user_email,
            status=status,
            limit=limit,
            cursor=cursor,
            include_checks=include_checks,
        )

    def list_active(self) -> list[Execution]:
        return self._listing.active()

    def count_active(self, user_email: str) -> RunningCount:
        """The counters: two consistent reads. Executions made before the counters existed
        (no slot marker) are not counted."""
        return self.counts(user_email)


class _Known(NamedTuple):
    """What never changes on an item and its updates need."""

    started_at: str
    user_email: str
    purpose: str


def _known(execution: Execution) -> _Known:
    return _Known(execution.started_at, execution.user_email, execution.purpose)
