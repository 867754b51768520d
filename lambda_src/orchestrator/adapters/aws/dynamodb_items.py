"""DynamoDB items: Python values to and from attributes, conditional-write failures, paging
and SET expressions; shared by the stores."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import error_code

CONDITION_FAILED = "ConditionalCheckFailedException"

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


def paginate(operation: Any, **request: Any) -> Iterator[Item]:
    while True:
        response = operation(**request)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def set_expression(values: dict[str, object]) -> tuple[str, dict[str, str], Item]:
    names = {f"#f{index}": name for index, name in enumerate(values)}
    attributes = {f":v{index}": to_attribute(value) for index, value in enumerate(values.values())}
    assignments = ", ".join(f"#f{index} = :v{index}" for index in range(len(values)))
    return f"SET {assignments}", names, attributes
