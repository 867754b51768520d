"""Finding playbooks (`.mycli/playbooks/` here or in the nearest parent that has one) and
reading them: YAML kept with the line of every key, checked against the model, every
problem reported as FILE:LINE: what is wrong (exit 2) before anything runs."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.constructor import SafeConstructor

from mycli import exitcodes
from mycli.errors import CliError
from mycli.playbooks.model import Location, Playbook, check_name, problems, untemplated_braces
from mycli.playbooks.shell import quoting_problems

PLAYBOOKS_DIR = Path(".mycli") / "playbooks"
SUFFIXES = (".yml", ".yaml")
MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 16  # a playbook needs 4 levels (params.NAME.choices[i])


class PlaybookError(CliError):
    """A playbook, or a value given for one, is wrong: FILE:LINE: what (exit 2)."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}", exitcodes.USAGE)


class PlaybookNotFound(CliError):
    def __init__(self, message: str) -> None:
        super().__init__(message, exitcodes.NOT_FOUND)


def shown(path: Path) -> str:
    """A path as the user would type it from here: relative when that is shorter."""
    relative = os.path.relpath(path)
    return relative if len(relative) < len(str(path)) else str(path)


def find_root(start: Path) -> Path | None:
    """The nearest directory, from `start` up to the filesystem root, that holds
    `.mycli/playbooks/` (like git looking for `.git`): the nearest one wins."""
    for directory in (start, *start.parents):
        if (directory / PLAYBOOKS_DIR).is_dir():
            return directory
    return None


@dataclass(frozen=True)
class PlaybookFile:
    """A file in the playbooks directory, not yet read."""

    name: str
    path: Path
    root: Path


def playbook_files(root: Path) -> list[PlaybookFile]:
    """NAME.yml and NAME.yaml files, by name. Two files for one name are refused."""
    found: dict[str, PlaybookFile] = {}
    for path in sorted((root / PLAYBOOKS_DIR).iterdir()):
        if path.suffix not in SUFFIXES or not path.is_file():
            continue
        if path.stem in found:
            raise PlaybookError(
                shown(path),
                f"two files for the playbook {path.stem!r}: keep one of "
                f"{found[path.stem].path.name} and {path.name}",
            )
        found[path.stem] = PlaybookFile(path.stem, path, root)
    return list(found.values())


def find_playbook(name: str, start: Path) -> PlaybookFile:
    """The file of the playbook `name`, searched from `start` upwards (exit 4 if none)."""
    root = find_root(start)
    if root is None:
        raise PlaybookNotFound(
            f"no {PLAYBOOKS_DIR}/ directory in {start} or any directory above it"
        )
    files = {file.name: file for file in playbook_files(root)}
    if name not in files:
        known = ", ".join(files) or "none"
        raise PlaybookNotFound(
            f"no playbook {name!r} in {shown(root / PLAYBOOKS_DIR)} (there: {known})"
        )
    return files[name]


@dataclass(frozen=True)
class LoadedPlaybook:
    """A valid playbook and where each of its keys is in its file."""

    name: str
    path: Path
    root: Path
    playbook: Playbook
    lines: dict[Location, int] = field(repr=False)

    def where(self, location: Location = ()) -> str:
        """FILE:LINE of the key at `location` (or of its nearest enclosing key)."""
        return f"{shown(self.path)}:{line_of(self.lines, location)[0]}"


def load(file: PlaybookFile) -> LoadedPlaybook:
    """Read and check one playbook; any problem raises PlaybookError naming file and line."""
    where = shown(file.path)
    if not check_name(file.name):
        raise PlaybookError(
            f"{where}:1",
            f"{file.name!r} is not a playbook name: a letter or digit, then up to 63 letters, "
            "digits, '.', '_' or '-'",
        )
    data, lines = read_yaml(file.path)
    if not isinstance(data, dict):
        raise PlaybookError(
            f"{where}:{lines[()]}", "a playbook is a mapping of keys (description: ..., ...)"
        )
    braces = untemplated_braces(data)
    if braces:
        location, problem = min(braces, key=lambda found: line_of(lines, found[0])[0])
        raise PlaybookError(f"{where}:{line_of(lines, location)[0]}", problem)
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as invalid:
        # The first problem in the file's order, as an editor would list them.
        errors = sorted(invalid.errors(), key=lambda error: line_of(lines, error["loc"])[0])
        line, path = line_of(lines, errors[0]["loc"])
        more = len(errors) - 1
        also = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise PlaybookError(f"{where}:{line}", describe(errors[0], path) + also) from None
    found = sorted(
        problems(playbook) + quoting_problems(playbook),
        key=lambda problem: line_of(lines, problem[0])[0],
    )
    if found:
        location, problem = found[0]
        raise PlaybookError(
            f"{where}:{line_of(lines, location)[0]}", f"{dotted(location)}: {problem}"
        )
    return LoadedPlaybook(file.name, file.path, file.root, playbook, lines)


def read_yaml(path: Path) -> tuple[Any, dict[Location, int]]:
    """The document as plain data, and the line of every key and list item in it.

    Mapping keys are taken as written (`on:` is the key "on", not YAML 1.1's true);
    duplicate keys, aliases and custom tags are refused."""
    where = shown(path)
    raw = read_bounded(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise PlaybookError(f"{where}:{line}", "not UTF-8 text") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        raise PlaybookError(
            f"{where}:{_line(error)}", f"bad YAML: {_yaml_problem(error)}"
        ) from None
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
        raise PlaybookError(f"{where}:{line}", f"bad YAML: {error.reason}") from None
    except RecursionError:
        raise PlaybookError(f"{where}:1", "bad YAML: nested too deeply") from None
    if node is None:
        raise PlaybookError(
            f"{where}:1", "the file is empty: a playbook needs description and command"
        )
    lines: dict[Location, int] = {(): node.start_mark.line + 1}
    return _Reader(where, lines).value(node, ()), lines


def read_bounded(path: Path) -> bytes:
    """The file's bytes, its size checked before reading (a huge file is refused, never
    read whole): at most MAX_FILE_BYTES + 1 bytes are ever read, of a regular file only."""
    where = shown(path)
    too_big = PlaybookError(where, f"over the limit of {MAX_FILE_BYTES // 1024} KiB for a playbook")
    try:
        # O_NONBLOCK: a FIFO put in place of the file must not hang the open.
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise PlaybookError(where, f"cannot read the file: {error.strerror}") from None
    with os.fdopen(handle, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise PlaybookError(where, "not a regular file")
        if status.st_size > MAX_FILE_BYTES:
            raise too_big
        try:
            raw = file.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise PlaybookError(where, f"cannot read the file: {error.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:  # it grew after the check
        raise too_big
    return raw


# The only tags a playbook's values may carry (YAML's core schema, resolved or written):
# text, numbers, true/false, null, maps and lists. Dates, binary, sets, merge keys, !!python/...
# and custom !tags are refused.
_CORE = "tag:yaml.org,2002:"
ALLOWED_TAGS = frozenset(
    _CORE + name for name in ("str", "int", "float", "bool", "null", "map", "seq")
)
_READ_AS = {_CORE + "timestamp": "a date", _CORE + "merge": "a merge key (<<)"}


class _Reader:
    """Turns composed YAML nodes into plain data, noting each key's line on the way."""

    def __init__(self, where: str, lines: dict[Location, int]) -> None:
        self._where = where
        self._lines = lines
        self._seen: set[int] = set()
        self._constructor = SafeConstructor()

    def _refuse(self, node: yaml.Node, what: str) -> PlaybookError:
        return PlaybookError(f"{self._where}:{node.start_mark.line + 1}", what)

    def value(self, node: yaml.Node, location: Location) -> Any:
        if id(node) in self._seen:
            # An alias is the anchored node itself: its marks are the anchor's, not the use's.
            raise PlaybookError(
                f"{self._where}:{self._lines[location]}",
                "bad YAML: aliases (*name) are not supported in playbooks",
            )
        self._seen.add(id(node))
        if len(location) > MAX_DEPTH:
            raise self._refuse(node, "bad YAML: nested too deeply")
        self._check_tag(node)
        if isinstance(node, yaml.MappingNode):
            mapping: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self._refuse(key_node, "bad YAML: a key must be a plain name")
                self._check_tag(key_node)
                key = str(key_node.value)
                if key in mapping:
                    raise self._refuse(key_node, f"bad YAML: the key {key!r} appears twice")
                self._lines[(*location, key)] = key_node.start_mark.line + 1
                mapping[key] = self.value(value_node, (*location, key))
            return mapping
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item_node in enumerate(node.value):
                self._lines[(*location, index)] = item_node.start_mark.line + 1
                items.append(self.value(item_node, (*location, index)))
            return items
        try:
            return self._constructor.construct_object(node)  # a scalar of an allowed tag
        except yaml.MarkedYAMLError as error:
            raise PlaybookError(
                f"{self._where}:{_line(error)}", f"bad YAML: {_yaml_problem(error)}"
            ) from None

    def _check_tag(self, node: yaml.Node) -> None:
        if node.tag in ALLOWED_TAGS:
            return
        if node.tag in _READ_AS and isinstance(node, yaml.ScalarNode):
            raise self._refuse(
                node,
                f"bad YAML: {node.value!r} reads as {_READ_AS[node.tag]}, which a playbook "
                "does not take: put it in quotes",
            )
        written = node.tag.replace(_CORE, "!!", 1)
        raise self._refuse(
            node,
            f"bad YAML: the tag {written} is not allowed (a playbook holds text, numbers, "
            "true/false, null, maps and lists)",
        )


def _line(error: yaml.MarkedYAMLError) -> int:
    mark = error.problem_mark
    if error.context_mark is not None and "end of stream" in (error.problem or ""):
        mark = error.context_mark  # where the unfinished thing began, not the file's end
    return mark.line + 1 if mark is not None else 1


def _yaml_problem(error: yaml.MarkedYAMLError) -> str:
    return ", ".join(part for part in (error.context, error.problem) if part) or str(error)


def line_of(lines: dict[Location, int], location: tuple[Any, ...]) -> tuple[int, Location]:
    """The line of `location` in the file and its path there. Segments pydantic adds that
    are not keys of the file (a union's branch, "[key]") are skipped."""
    path: Location = ()
    for segment in location:
        if (*path, segment) in lines:
            path = (*path, segment)
    return lines[path], path


def dotted(location: Location) -> str:
    """`params.NAME.default`: a key's path as an error shows it, control characters in a
    name escaped (`\\n`, `\\x1b`) so a name cannot break or forge the line."""
    return ".".join(escaped(str(segment)) for segment in location) or "the playbook"


def escaped(text: str) -> str:
    """`text` with each character that is not printable written as repr() writes it."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


# pydantic's words for a value of the wrong type, where YAML's own reading is the likely cause.
_YAML_TYPES = {bool: "true/false", int: "a number", float: "a number"}


def describe(error: ErrorDetails, path: Location) -> str:
    """One pydantic error in the words of a playbook author."""
    kind = error["type"]
    key = error["loc"][-1] if error["loc"] else ""
    if kind == "extra_forbidden":
        parent = path[:-1]
        allowed = _allowed_keys(parent)
        return f"unknown key {key!r} in {dotted(parent)} (allowed: {', '.join(allowed)})"
    if kind == "missing":
        return f"{dotted(path)}: missing the required key {key!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    read_as = _YAML_TYPES.get(type(error.get("input")))
    if read_as is not None and "string" in message:
        message += f" (YAML read {error['input']!r} as {read_as}: put it in quotes)"
    return f"{dotted(path)}: {message}"


def _allowed_keys(parent: Location) -> list[str]:
    from mycli.playbooks.model import Param

    model = Param if len(parent) == 2 and parent[0] == "params" else Playbook
    return list(model.model_fields)


def iter_loaded(root: Path) -> Iterator[LoadedPlaybook | PlaybookError]:
    """Every playbook under `root`, loaded, or the error that refuses it."""
    for file in playbook_files(root):
        try:
            yield load(file)
        except PlaybookError as error:
            yield error
