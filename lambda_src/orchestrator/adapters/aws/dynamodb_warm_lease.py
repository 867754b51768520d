"""The pool manager's lease (the PoolManagerLease port) in the WarmTasks table: the item
`lease#pool-manager` (an id with a `#`, no `image` nor `state`: in no index, never read as
a task), with `holder`, `until` and, while a run asked the holder to run again, `again`.
Every change is one conditional UpdateItem; letting go removes `holder` (nothing is ever
deleted)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.dynamodb_items import is_condition_failure

LEASE_ID = "lease#pool-manager"


class DynamoPoolManagerLease:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def acquire(self, holder: str, now: str, until: str) -> bool:
        return self._update(
            "SET holder = :holder, #until = :until REMOVE again",
            "attribute_not_exists(holder) OR #until < :now",
            {":holder": holder, ":until": until, ":now": now},
        )

    def ask_again(self, now: str) -> bool:
        return self._update(
            "SET again = :yes",
            "attribute_exists(holder) AND #until >= :now",
            {":yes": "yes", ":now": now},
        )

    def release(self, holder: str, until: str) -> bool:
        if self._update(
            "REMOVE holder, #until",
            "holder = :holder AND attribute_not_exists(again)",
            {":holder": holder},
        ):
            return True
        # Asked again (keep it, run once more), or no longer ours (the new holder runs).
        return not self._update(
            "SET #until = :until REMOVE again",
            "holder = :holder",
            {":holder": holder, ":until": until},
        )

    def drop(self, holder: str) -> None:
        self._update("REMOVE holder, #until, again", "holder = :holder", {":holder": holder})

    def _update(self, update: str, condition: str, values: dict[str, str]) -> bool:
        names = {"#until": "until"} if "#until" in update + condition else {}
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"task_id": {"S": LEASE_ID}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues={name: {"S": value} for name, value in values.items()},
                **({"ExpressionAttributeNames": names} if names else {}),
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True
