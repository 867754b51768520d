"""The WarmTasks table (docs/warm-runners.md): partition key `task_id`, GSI `image-state`
(`image`, `state`). Besides the tasks it holds two kinds of bookkeeping items, whose ids hold
a `#` (no task id has one) and which carry neither `image` nor `state`, so they enter no
index: `claim#<execution id>` (the task an execution claimed: one per execution) and
`demand#<image>` (when a run last asked for the image); and the pool manager's lease,
`lease#pool-manager` (dynamodb_warm_lease.py).

A claim is one transaction: the task's `ready` -> `assigned` (conditional) and the
execution's claim item (only if it has none). Candidates come from the index (eventually
consistent: a task ready a moment ago may be missed, and the run starts cold); the
conditions on the table settle every race."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.dynamodb_items import (
    Item,
    from_item,
    is_condition_failure,
    paginate,
    to_attribute,
    to_item,
)
from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import parse_iso
from orchestrator.domain.warm_tasks import WarmState, WarmTask

INDEX = "image-state"
CLAIM_PREFIX = "claim#"
DEMAND_PREFIX = "demand#"
OPEN = (WarmState.STARTING, WarmState.READY, WarmState.ASSIGNED)
# Ended tasks and claim items stay a day (the table's TTL attribute), for the events and
# the reaper that come late.
KEPT_AFTER_END = timedelta(days=1)
CONFLICT_ATTEMPTS = 4


def _key(task_id: str) -> Item:
    return {"task_id": {"S": task_id}}


def _expiry(at: str) -> dict[str, str]:
    moment = parse_iso(at) if at else datetime.now(UTC)
    return {"N": str(int((moment + KEPT_AFTER_END).timestamp()))}


def _task(item: Item) -> WarmTask:
    return WarmTask.from_dict(from_item(item))


class DynamoWarmPool:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def register(self, task: WarmTask) -> None:
        data = {name: value for name, value in task.to_dict().items() if value is not None}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(data),
                ConditionExpression="attribute_not_exists(task_id)",
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise Conflict(f"warm task {task.task_id} exists") from error
            raise

    def mark_ready(self, task_id: str, task_ref: str, ready_at: str) -> WarmTask | None:
        return self._move(
            task_id,
            "SET #state = :to, task_ref = :ref, ready_at = :at",
            "#state = :starting",
            {
                ":to": {"S": WarmState.READY.value},
                ":ref": {"S": task_ref},
                ":at": {"S": ready_at},
                ":starting": {"S": WarmState.STARTING.value},
            },
        )

    def finish(self, task_id: str, state: WarmState, at: str) -> WarmTask | None:
        if state not in (WarmState.DONE, WarmState.DEAD):
            raise ValueError(f"a task ends DONE or DEAD, not {state}")
        return self._move(
            task_id,
            "SET #state = :to, ended_at = :at, expires_at_epoch = :ttl",
            "#state IN (:s1, :s2, :s3)",
            {
                ":to": {"S": state.value},
                ":at": {"S": at},
                ":ttl": _expiry(at),
                **{f":s{n}": {"S": s.value} for n, s in enumerate(OPEN, start=1)},
            },
        )

    def _move(self, task_id: str, update: str, condition: str, values: Item) -> WarmTask | None:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(task_id),
                UpdateExpression=update,
                ConditionExpression=f"attribute_exists(task_id) AND {condition}",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        return _task(response["Attributes"])

    def get(self, task_id: str) -> WarmTask | None:
        if "#" in task_id:
            return None
        item = self._client.get_item(
            TableName=self._table, Key=_key(task_id), ConsistentRead=True
        ).get("Item")
        return _task(item) if item else None

    def claim(
        self, image: str, execution_id: str, *, platform_ref: str | None, usable_after: str, at: str
    ) -> WarmTask | None:
        held = self._claimed_by(execution_id)
        if held is not None:
            return held
        candidates = [
            task
            for task in self._in_state(image, WarmState.READY)
            if task.platform_ref == platform_ref and task.usable_until > usable_after
        ]
        random.shuffle(candidates)  # concurrent claimers spread over the ready tasks
        for candidate in candidates:
            outcome = self._try_claim(candidate, execution_id, usable_after, at)
            if outcome == "claimed":
                return self.get(candidate.task_id)
            if outcome == "execution holds one":
                return self._claimed_by(execution_id)
        return None

    def _try_claim(self, task: WarmTask, execution_id: str, usable_after: str, at: str) -> str:
        """`claimed`, `taken` (the task is not ready any more) or `execution holds one`."""
        if task.platform_ref is None:
            same_ref, ref_values = "attribute_not_exists(platform_ref)", {}
        else:
            same_ref, ref_values = "platform_ref = :ref", {":ref": {"S": task.platform_ref}}
        writes = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _key(task.task_id),
                    "UpdateExpression": "SET #state = :assigned, execution_id = :e, "
                    "claimed_at = :at",
                    "ConditionExpression": f"#state = :ready AND usable_until > :after AND "
                    f"{same_ref}",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": {
                        ":assigned": {"S": WarmState.ASSIGNED.value},
                        ":ready": {"S": WarmState.READY.value},
                        ":e": {"S": execution_id},
                        ":at": {"S": at},
                        ":after": {"S": usable_after},
                        **ref_values,
                    },
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        "task_id": {"S": CLAIM_PREFIX + execution_id},
                        "claimed_task": {"S": task.task_id},
                        "claimed_at": {"S": at},
                        "expires_at_epoch": _expiry(at),
                    },
                    "ConditionExpression": "attribute_not_exists(task_id)",
                }
            },
        ]
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=writes)
                return "claimed"
            except ClientError as error:
                codes = [r.get("Code") for r in error.response.get("CancellationReasons") or []]
                if len(codes) == 2 and codes[1] == "ConditionalCheckFailed":
                    return "execution holds one"
                if len(codes) == 2 and codes[0] == "ConditionalCheckFailed":
                    return "taken"
                if "TransactionConflict" not in codes or attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.02 * 2**attempt))
        return "taken"

    def _claimed_by(self, execution_id: str) -> WarmTask | None:
        item = self._client.get_item(
            TableName=self._table, Key=_key(CLAIM_PREFIX + execution_id), ConsistentRead=True
        ).get("Item")
        return self.get(item["claimed_task"]["S"]) if item else None

    def _in_state(self, image: str, state: WarmState) -> list[WarmTask]:
        items = paginate(
            self._client.query,
            TableName=self._table,
            IndexName=INDEX,
            KeyConditionExpression="image = :image AND #state = :state",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":image": {"S": image}, ":state": {"S": state.value}},
        )
        return [_task(item) for item in items]

    def open_tasks(self, image: str) -> list[WarmTask]:
        # One query per state, in the states' order: a task that moves on between two
        # queries shows up in both (never in neither); the later read, its newer state, wins.
        by_id = {task.task_id: task for state in OPEN for task in self._in_state(image, state)}
        return sorted(by_id.values(), key=lambda task: (task.started_at, task.task_id))

    def counts(self, image: str) -> dict[WarmState, int]:
        # From open_tasks, not a COUNT per state: a task moving on between two queries would
        # be counted twice (a pool of at most 50 tasks reads in one page per state anyway).
        counted = dict.fromkeys(OPEN, 0)
        for task in self.open_tasks(image):
            counted[task.state] += 1
        return counted

    def stale(self, image: str, *, started_before: str, expiring_before: str) -> list[WarmTask]:
        starting = [
            task
            for task in self._in_state(image, WarmState.STARTING)
            if task.started_at < started_before
        ]
        expiring = [
            task
            for task in self._in_state(image, WarmState.READY)
            if task.usable_until < expiring_before
        ]
        return sorted(starting + expiring, key=lambda task: (task.started_at, task.task_id))

    def note_demand(self, image: str, at: str) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(DEMAND_PREFIX + image),
                UpdateExpression="SET #at = :at",
                ConditionExpression="attribute_not_exists(task_id) OR #at < :at",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":at": to_attribute(at)},
            )
        except ClientError as error:
            if not is_condition_failure(error):  # a later run was noted already
                raise

    def last_demand(self, image: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key=_key(DEMAND_PREFIX + image), ConsistentRead=True
        ).get("Item")
        return str(item["at"]["S"]) if item else None
