"""Listings of the Executions table: index queries, newest first, with opaque cursors;
nothing scans the table. A check's (`mycli doctor`'s) `status` and `user_email` carry
CHECK_PREFIX, so its partitions of both indexes are its own, read only when a listing
includes checks (docs/aws-data-model.md)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from orchestrator.adapters.aws.dynamodb_items import Item, from_item, to_item
from orchestrator.domain.cursors import decode_cursor, encode_cursor
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import (
    ACTIVE_STATUSES,
    CHECK,
    PURPOSES,
    RUN,
    Execution,
    ExecutionStatus,
    Page,
)

USER_INDEX = "user_email-started_at"
STATUS_INDEX = "status-started_at"
# Before a check's `status` and `user_email`: a space, which no email (EMAIL_PATTERN) and
# no status has, so a check's partitions are no one else's.
CHECK_PREFIX = "check "
# With a filter, DynamoDB applies Limit before filtering: read in pages of this size.
FILTERED_PAGE = 200


class ExecutionListing:
    """The listing queries of DynamoExecutionStore."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def page(
        self,
        *,
        user_email: str | None,
        status: ExecutionStatus | None,
        limit: int,
        cursor: str | None,
        include_checks: bool = False,
    ) -> Page:
        if user_email is not None and user_email.startswith(CHECK_PREFIX):
            return Page(items=[], next_cursor=None)  # no one's email: a check partition
        purposes = (RUN, CHECK) if include_checks else (RUN,)
        if user_email is None and status is None:
            # Everyone's: every status partition of the status index (the cursor's labels
            # are the partitions' values, as before checks existed).
            everyone = [
                _Partition(STATUS_INDEX, "status", stored_value(s.value, purpose))
                for purpose in purposes
                for s in ExecutionStatus
            ]
            return self._merged({p.value: p for p in everyone}, limit, cursor)
        partitions = {purpose: _listing(user_email, status, purpose) for purpose in purposes}
        if include_checks:
            return self._merged(partitions, limit, cursor)
        return self._single(partitions[RUN], limit, cursor)

    def active(self) -> list[Execution]:
        active: list[Execution] = []
        for status in ACTIVE_STATUSES:
            for purpose in PURPOSES:
                partition = _Partition(STATUS_INDEX, "status", stored_value(status.value, purpose))
                active += self._newest_first(partition, start=None)
        return sorted(active, key=lambda e: e.started_at)

    def _single(self, partition: _Partition, limit: int, cursor: str | None) -> Page:
        """One index partition, newest first; the cursor is the last item's index key."""
        start = decode_cursor(cursor, ("key",))["key"] if cursor else None
        items = list(self._newest_first(partition, start=start, wanted=limit + 1))
        page = items[:limit]
        next_cursor = (
            encode_cursor({"key": _index_key(page[-1], partition)}) if len(items) > limit else None
        )
        return Page(items=page, next_cursor=next_cursor)

    def _merged(self, partitions: dict[str, _Partition], limit: int, cursor: str | None) -> Page:
        """Several index partitions merged newest first, without a scan: at most `limit` + 1
        items read from each. The cursor keeps a position per partition still open."""
        if cursor:
            positions: Any = decode_cursor(cursor, ("positions",))["positions"]
            if not isinstance(positions, dict) or not set(positions) <= set(partitions):
                raise ValidationFailed("invalid cursor", {"cursor": cursor})
        else:
            positions = dict.fromkeys(partitions)
        fetched = {
            label: [
                (label, execution)
                for execution in self._newest_first(
                    partitions[label], start=start, wanted=limit + 1
                )
            ]
            for label, start in positions.items()
        }
        merged = heapq.merge(*fetched.values(), key=lambda pair: pair[1].started_at, reverse=True)
        taken = list(itertools.islice(merged, limit + 1))
        page = taken[:limit]
        items = [execution for _, execution in page]
        if len(taken) <= limit:
            return Page(items=items, next_cursor=None)
        next_positions: dict[str, Any] = {}
        for label, read in fetched.items():
            consumed = [execution for taken_from, execution in page if taken_from == label]
            exhausted = len(read) <= limit and len(consumed) == len(read)
            if not exhausted:
                next_positions[label] = (
                    _index_key(consumed[-1], partitions[label]) if consumed else positions[label]
                )
        return Page(items=items, next_cursor=encode_cursor({"positions": next_positions}))

    def _newest_first(
        self,
        partition: _Partition,
        *,
        start: dict[str, str] | None,
        wanted: int | None = None,
    ) -> Iterator[Execution]:
        """Items of one index partition, newest first, from after `start`."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": partition.index,
            "KeyConditionExpression": "#partition = :partition",
            "ExpressionAttributeNames": {"#partition": partition.attribute},
            "ExpressionAttributeValues": {":partition": {"S": partition.value}},
            "ScanIndexForward": False,
        }
        if partition.status is not None:
            request["FilterExpression"] = "#status = :status"
            request["ExpressionAttributeNames"]["#status"] = "status"
            request["ExpressionAttributeValues"][":status"] = {"S": partition.status}
        if start:
            request["ExclusiveStartKey"] = to_item(start)
        produced = 0
        while True:
            if wanted is not None:
                request["Limit"] = wanted - produced if partition.status is None else FILTERED_PAGE
            response = self._client.query(**request)
            for item in response.get("Items", []):
                yield execution_from_item(item)
                produced += 1
                if wanted is not None and produced >= wanted:
                    return
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


@dataclass(frozen=True)
class _Partition:
    """One partition of an index: its attribute's stored value; `status` (stored value)
    filters the items read (the user index has no status key)."""

    index: str
    attribute: str
    value: str
    status: str | None = None


def stored_value(value: str, purpose: str) -> str:
    """A `status` or `user_email` as a record of `purpose` stores it: a check's carries
    CHECK_PREFIX, which keeps it out of the partitions the default listings read."""
    return CHECK_PREFIX + value if purpose == CHECK else value


def plain_value(value: str) -> str:
    return value.removeprefix(CHECK_PREFIX)


def _listing(user_email: str | None, status: ExecutionStatus | None, purpose: str) -> _Partition:
    """The partition holding `purpose`'s records of `user_email` (or of `status`)."""
    if user_email is not None:
        only = stored_value(status.value, purpose) if status is not None else None
        return _Partition(USER_INDEX, "user_email", stored_value(user_email, purpose), only)
    assert status is not None
    return _Partition(STATUS_INDEX, "status", stored_value(status.value, purpose))


def _index_key(execution: Execution, partition: _Partition) -> dict[str, str]:
    """ExclusiveStartKey of an index query that resumes right after `execution`."""
    return {
        "execution_id": execution.execution_id,
        "started_at": execution.started_at,
        partition.attribute: partition.value,
    }


def execution_item(execution: Execution) -> dict[str, object]:
    """What an execution item holds: the record, the fingerprint of an idempotent create's
    request and a queued run's sealed env values (stored, never shown, so not in `to_dict`;
    absent on older items)."""
    data = execution.to_dict()
    data["status"] = stored_value(execution.status.value, execution.purpose)
    data["user_email"] = stored_value(execution.user_email, execution.purpose)
    if execution.request_fingerprint is not None:
        data["request_fingerprint"] = execution.request_fingerprint
    if execution.sealed_env is not None:
        data["sealed_env"] = execution.sealed_env
    return data


def execution_from_item(item: Item) -> Execution:
    data = from_item(item)
    fields: dict[str, Any] = {name: data.get(name) for name in Execution.__dataclass_fields__}
    fields["status"] = ExecutionStatus(plain_value(data["status"]))
    fields["user_email"] = plain_value(data["user_email"])
    fields["purpose"] = data.get("purpose") or RUN  # absent on items older than purposes
    fields["env_names"] = tuple(data.get("env_names") or ())
    fields["secret_names"] = tuple(data.get("secret_names") or ())
    return Execution(**fields)
