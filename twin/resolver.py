"""CloudFormation's intrinsic functions over the twin's resources: `Ref`, `Fn::GetAtt`,
`Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split`, `Fn::GetAZs` and the pseudo parameters,
each resource's values being what moto (or the twin) gave it when it was created."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"
STACK_NAME = "Mycli"
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Unresolved(LookupError):
    """A reference to something the twin did not create (or a function it does not know)."""


@dataclass(frozen=True)
class Physical:
    """What a resource resolves to: its Ref value and its attributes."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


class Resolver:
    """Resolves template values against the resources created so far."""

    def __init__(self, region: str = REGION, account: str = ACCOUNT) -> None:
        self.region = region
        self.account = account
        self.resources: dict[str, Physical] = {}
        self.pseudo = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{STACK_NAME}/twin",
        }

    def add(self, logical_id: str, physical: Physical) -> None:
        self.resources[logical_id] = physical

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function replaced by its result."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            [(name, argument)] = value.items()
            if name == "Ref" or name.startswith("Fn::"):
                return self._function(name, argument)
        return {key: self.resolve(item) for key, item in value.items()}

    def text(self, value: Any) -> str:
        resolved = self.resolve(value)
        if not isinstance(resolved, str | int | float):
            raise Unresolved(f"expected a string, got {resolved!r}")
        return str(resolved)

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self._ref(str(argument))
        if name == "Fn::GetAtt":
            logical_id, attribute = (
                argument if isinstance(argument, list) else str(argument).split(".", 1)
            )
            return self._attribute(logical_id, attribute)
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(self.text(item) for item in self.resolve(items))
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if name == "Fn::Split":
            separator, text = argument
            return self.text(text).split(separator)
        if name == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        raise Unresolved(f"the twin does not evaluate {name}")

    def _ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        physical = self.resources.get(name)
        if physical is None:
            raise Unresolved(f"Ref {name}: the twin did not create that resource")
        return physical.ref

    def _attribute(self, logical_id: str, attribute: str) -> str:
        physical = self.resources.get(logical_id)
        if physical is None:
            raise Unresolved(f"GetAtt {logical_id}.{attribute}: the twin did not create it")
        if attribute not in physical.attributes:
            raise Unresolved(f"GetAtt {logical_id}.{attribute}: no such attribute in the twin")
        return physical.attributes[attribute]

    def _sub(self, argument: Any) -> str:
        template, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.text(value) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return values[name]
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self._attribute(logical_id, attribute)
            return self._ref(name)

        return _SUB_VARIABLE.sub(replace, template).replace("${!", "${")
