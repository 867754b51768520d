"""Task definitions as the stand-in runs them, read from DescribeTaskDefinition's shape (the
ECS API's camelCase `taskDefinition`); a synthesized `AWS::ECS::TaskDefinition`'s Properties
convert to that shape first (`from_cloudformation`). RunTask's overrides are checked
against the definition as ECS checks them.

What the stand-in honours is parsed and validated here; ECS's rules that would otherwise
show up as a hung or surprising task are refused with a clear TaskDefinitionError."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

START = "START"
COMPLETE = "COMPLETE"
SUCCESS = "SUCCESS"
HEALTHY = "HEALTHY"
CONDITIONS = (START, COMPLETE, SUCCESS)
# CloudFormation keys whose value is a map of user-chosen names (not PascalCase fields).
_DATA_MAPS = {"Options", "DockerLabels"}
_RENAMED = {"EFSVolumeConfiguration": "efsVolumeConfiguration"}


class TaskDefinitionError(ValueError):
    """A task definition or overrides that ECS would refuse, or that the twin cannot run."""


@dataclass(frozen=True)
class Dependency:
    """`dependsOn`: start only once `container` meets `condition`."""

    container: str
    condition: str


@dataclass(frozen=True)
class MountPoint:
    source_volume: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerDefinition:
    name: str
    image: str
    essential: bool = True
    entry_point: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    environment: tuple[tuple[str, str], ...] = ()
    working_directory: str | None = None
    mount_points: tuple[MountPoint, ...] = ()
    depends_on: tuple[Dependency, ...] = ()
    stop_timeout: float | None = None
    log_options: tuple[tuple[str, str], ...] = ()

    def log_stream(self, task_id: str) -> tuple[str, str] | None:
        """The awslogs driver's (log group, stream) for this container in a task, if any."""
        options = dict(self.log_options)
        group, prefix = options.get("awslogs-group"), options.get("awslogs-stream-prefix")
        if not group or not prefix:
            return None
        return group, f"{prefix}/{self.name}/{task_id}"


@dataclass(frozen=True)
class TaskDefinition:
    arn: str
    family: str
    containers: tuple[ContainerDefinition, ...]
    volumes: tuple[str, ...] = ()
    cpu: str | None = None
    memory: str | None = None

    def container(self, name: str) -> ContainerDefinition:
        return next(c for c in self.containers if c.name == name)

    def dependents(self, name: str) -> list[str]:
        """The containers that depend on `name` (stopped before it, ECS's reverse order)."""
        return [c.name for c in self.containers if any(d.container == name for d in c.depends_on)]


def parse_task_definition(data: Mapping[str, Any]) -> TaskDefinition:
    """A DescribeTaskDefinition response (or its `taskDefinition`) → TaskDefinition."""
    body: Mapping[str, Any] = data.get("taskDefinition", data)
    containers = tuple(
        _container(item, f"containerDefinitions[{index}]")
        for index, item in enumerate(_list(body, "containerDefinitions", "task definition"))
    )
    volumes = tuple(
        _text(v, "name", f"volumes[{i}]") for i, v in enumerate(body.get("volumes") or [])
    )
    definition = TaskDefinition(
        arn=str(body.get("taskDefinitionArn") or ""),
        family=str(body.get("family") or ""),
        containers=containers,
        volumes=volumes,
        cpu=_optional_size(body.get("cpu")),
        memory=_optional_size(body.get("memory")),
    )
    _validate(definition)
    return definition


def from_cloudformation(
    properties: Mapping[str, Any],
    *,
    arn: str = "",
    resolve: Callable[[Mapping[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    """An `AWS::ECS::TaskDefinition`'s Properties → DescribeTaskDefinition's
    `taskDefinition` shape. `resolve` replaces CloudFormation values ({"Ref": ...},
    {"Fn::...": ...}); without it they stay, and parsing names any field that needs one."""

    def convert(value: Any, data_map: bool = False) -> Any:
        if isinstance(value, Mapping):
            if resolve is not None and _is_intrinsic(value):
                return convert(resolve(value))
            return {
                (key if data_map else _camel(key)): convert(item, key in _DATA_MAPS)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [convert(item) for item in value]
        return value

    converted: dict[str, Any] = convert(dict(properties))
    converted.setdefault("taskDefinitionArn", arn)
    return converted


def container_overrides(
    definition: TaskDefinition, overrides: Mapping[str, Any] | None
) -> dict[str, Mapping[str, Any]]:
    """RunTask's `containerOverrides` by container name, refused as ECS refuses them."""
    by_name: dict[str, Mapping[str, Any]] = {}
    names = {c.name for c in definition.containers}
    for index, item in enumerate((overrides or {}).get("containerOverrides") or []):
        where = f"containerOverrides[{index}]"
        name = _text(item, "name", where)
        if name not in names:
            raise TaskDefinitionError(
                f"{where}: override for container named {name} is not a container in the "
                "task definition"
            )
        if name in by_name:
            raise TaskDefinitionError(f"{where}: container {name} is overridden twice")
        _strings(item.get("command"), f"{where}.command")
        _pairs(item.get("environment"), f"{where}.environment")
        by_name[name] = item
    return by_name


def effective_command(
    container: ContainerDefinition, override: Mapping[str, Any]
) -> tuple[str, ...] | None:
    """The container's command: the override's when it gives one."""
    command = _strings(override.get("command"), "command")
    return command if command is not None else container.command


def effective_environment(
    container: ContainerDefinition, override: Mapping[str, Any]
) -> dict[str, str]:
    """The definition's environment, the override's values added or replacing by name."""
    environment = dict(container.environment)
    environment.update(_pairs(override.get("environment"), "environment"))
    return environment


def _container(item: Mapping[str, Any], where: str) -> ContainerDefinition:
    stop_timeout = item.get("stopTimeout")
    log = item.get("logConfiguration") or {}
    options = log.get("options") or {}
    return ContainerDefinition(
        name=_text(item, "name", where),
        image=_text(item, "image", where),
        essential=bool(item.get("essential", True)),
        entry_point=_strings(item.get("entryPoint"), f"{where}.entryPoint"),
        command=_strings(item.get("command"), f"{where}.command"),
        environment=tuple(_pairs(item.get("environment"), f"{where}.environment").items()),
        working_directory=_optional_text(item, "workingDirectory", where),
        mount_points=tuple(
            MountPoint(
                source_volume=_text(m, "sourceVolume", f"{where}.mountPoints[{i}]"),
                container_path=_text(m, "containerPath", f"{where}.mountPoints[{i}]"),
                read_only=bool(m.get("readOnly", False)),
            )
            for i, m in enumerate(item.get("mountPoints") or [])
        ),
        depends_on=tuple(
            Dependency(
                container=_text(d, "containerName", f"{where}.dependsOn[{i}]"),
                condition=_text(d, "condition", f"{where}.dependsOn[{i}]"),
            )
            for i, d in enumerate(item.get("dependsOn") or [])
        ),
        stop_timeout=float(stop_timeout) if stop_timeout is not None else None,
        log_options=tuple(
            (str(key), value) for key, value in options.items() if isinstance(value, str)
        ),
    )


def _validate(definition: TaskDefinition) -> None:
    """ECS's registration rules, and the twin's own limits, as clear errors."""
    names = [c.name for c in definition.containers]
    if not names:
        raise TaskDefinitionError("the task definition has no containers")
    if len(set(names)) != len(names):
        raise TaskDefinitionError(f"container names repeat: {', '.join(names)}")
    if not any(c.essential for c in definition.containers):
        raise TaskDefinitionError("a task definition needs at least one essential container")
    by_name = {c.name: c for c in definition.containers}
    for container in definition.containers:
        for mount in container.mount_points:
            if mount.source_volume not in definition.volumes:
                raise TaskDefinitionError(
                    f"{container.name}: mount point {mount.container_path} names volume "
                    f"{mount.source_volume}, which the task definition does not declare"
                )
            if not mount.container_path.startswith("/"):
                raise TaskDefinitionError(
                    f"{container.name}: mount path {mount.container_path} is not absolute"
                )
        for dependency in container.depends_on:
            target = by_name.get(dependency.container)
            if target is None or target is container:
                raise TaskDefinitionError(
                    f"{container.name}: depends on {dependency.container}, "
                    "which is not another container of the task definition"
                )
            if dependency.condition == HEALTHY:
                raise TaskDefinitionError(
                    f"{container.name}: the twin runs no health checks, so the HEALTHY "
                    f"condition on {dependency.container} is not supported"
                )
            if dependency.condition not in CONDITIONS:
                raise TaskDefinitionError(
                    f"{container.name}: unknown dependency condition {dependency.condition}"
                )
            if dependency.condition in (COMPLETE, SUCCESS) and target.essential:
                raise TaskDefinitionError(
                    f"{container.name}: a dependency container with SUCCESS or COMPLETE "
                    f"condition cannot be an essential container ({target.name})"
                )
    _refuse_cycles(by_name)


def _refuse_cycles(by_name: Mapping[str, ContainerDefinition]) -> None:
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            cycle = " -> ".join((*path[path.index(name) :], name))
            raise TaskDefinitionError(f"container dependencies form a cycle: {cycle}")
        if name in done:
            return
        for dependency in by_name[name].depends_on:
            visit(dependency.container, (*path, name))
        done.add(name)

    for name in by_name:
        visit(name, ())


def _camel(key: str) -> str:
    return _RENAMED.get(key) or (key[:1].lower() + key[1:])


def _is_intrinsic(value: Mapping[str, Any]) -> bool:
    return len(value) == 1 and any(k == "Ref" or k.startswith("Fn::") for k in value)


def _list(body: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = body.get(key)
    if not isinstance(value, list):
        raise TaskDefinitionError(f"{where}: {key} must be a list")
    return value


def _text(item: Any, key: str, where: str) -> str:
    value = item.get(key) if isinstance(item, Mapping) else None
    if not isinstance(value, str) or not value:
        hint = " (an unresolved CloudFormation value? pass resolve=)" if value else ""
        raise TaskDefinitionError(f"{where}.{key} must be a non-empty string{hint}")
    return value


def _optional_text(item: Mapping[str, Any], key: str, where: str) -> str | None:
    return _text(item, key, where) if item.get(key) is not None else None


def _optional_size(value: Any) -> str | None:
    return str(value) if value is not None else None


def _strings(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise TaskDefinitionError(f"{where} must be a list of strings")
    if not all(isinstance(part, str) for part in value):
        raise TaskDefinitionError(
            f"{where} must be a list of strings (an unresolved CloudFormation value?)"
        )
    return tuple(value)


def _pairs(value: Any, where: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for index, item in enumerate(value or []):
        name = _text(item, "name", f"{where}[{index}]")
        text = item.get("value")
        if not isinstance(text, str):
            raise TaskDefinitionError(f"{where}[{index}].value must be a string")
        pairs[name] = text
    return pairs
