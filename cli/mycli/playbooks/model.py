"""The playbook file's shape: one pydantic model that validates every file and is the
source of the published JSON Schema (docs/playbook.schema.json, see schema.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)

from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.git_sources import checked_source, split_source
from orchestrator.domain.models import (
    ENV_NAME_PATTERN,
    LOCK_NAME_RULE,
    MAX_COMMAND_LENGTH,
    MAX_ENV_ENTRIES,
    MAX_ENV_VALUE_LENGTH,
    MAX_TIMEOUT_SECONDS,
    PLAYBOOK_NAME_PATTERN,
    TextKind,
    is_valid_lock_name,
)
from orchestrator.domain.secrets import (
    secret_count_problem,
    secret_reference,
    secret_reference_problem,
)
from orchestrator.text_rules import text_validator

MAX_LOCK_NAME_LENGTH = 128
SCHEMA_ID = "https://github.com/mycli/mycli/blob/main/docs/playbook.schema.json"
PARAM_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
# `--secret NAME` or `--secret VAR=NAME`: the stored secret's name, optionally the variable.
SECRET_SPEC_PATTERN = r"^([A-Za-z_][A-Za-z0-9_]*=)?[A-Za-z0-9._/-]{1,128}$"
MAX_WAIT_LOCK_SECONDS = 86400

_STRICT = ConfigDict(extra="forbid", strict=True)


def _string_or_arguments(value: Any) -> Any:
    """Say plainly what `command` takes instead of one error per member of the union."""
    if not isinstance(value, str | list):
        raise ValueError("must be a string (run by the shell) or a list of arguments")
    return value


def _names_match(pattern: str) -> Callable[[dict[str, Any]], None]:
    """JSON Schema for a map whose every key matches `pattern` (pydantic's own
    patternProperties would let other keys through)."""

    def edit(schema: dict[str, Any]) -> None:
        [(_, values)] = schema.pop("patternProperties").items()
        schema["propertyNames"] = {"pattern": pattern}
        schema["additionalProperties"] = values

    return edit


def _valid_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"not a valid regular expression: {error}") from None
    return pattern


Name = Annotated[str, text_validator(TextKind.NAME)]
Text = Annotated[str, text_validator(TextKind.COMMAND)]
Argument = Annotated[str, text_validator(TextKind.COMMAND)]
EnvName = Annotated[str, Field(pattern=ENV_NAME_PATTERN)]
EnvValue = Annotated[str, Field(max_length=MAX_ENV_VALUE_LENGTH), text_validator(TextKind.VALUE)]
ParamName = Annotated[str, Field(pattern=PARAM_NAME_PATTERN)]
Command = Annotated[
    Annotated[Text, Tag("string")]
    | Annotated[list[Argument], Field(min_length=1), Tag("arguments")],
    Discriminator(lambda value: "string" if isinstance(value, str) else "arguments"),
    BeforeValidator(_string_or_arguments),
    Field(
        description="A string is run by the shell (`sh -c`); a list is a command and its "
        "arguments, each quoted (like `mycli exec -- ARG...`). Params: {{ params.NAME }}."
    ),
]


class Param(BaseModel):
    """A value the command, env or lock can use as {{ params.NAME }}."""

    model_config = _STRICT

    description: Text = Field(min_length=1, max_length=1000)
    default: Text | None = Field(
        default=None, description="Without a default the param is required (--param NAME=VALUE)."
    )
    choices: list[Text] | None = Field(
        default=None, min_length=1, description="The only values allowed."
    )
    pattern: Annotated[Text, AfterValidator(_valid_regex)] | None = Field(
        default=None, description="A Python regular expression the whole value must match."
    )
    quote: bool = Field(
        default=True,
        description="The command gets the value as data, the env variable MYCLI_PARAM_NAME "
        "(the default). `false` pastes it as shell syntax and needs `choices` or `pattern` "
        "to bound it.",
    )

    def problem_with(self, value: str) -> str | None:
        """Why `value` may not be this param's value, in words; None when it may."""
        if self.choices is not None and value not in self.choices:
            return f"{value!r} is not one of: {', '.join(self.choices)}"
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return f"{value!r} does not match the pattern {self.pattern!r}"
        return None


class Playbook(BaseModel):
    """One task: what to run, and how (the options of `mycli exec`)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        title="mycli playbook",
        json_schema_extra={
            "$id": SCHEMA_ID,
            "$comment": "Generated from mycli/playbooks/model.py: "
            "python -m mycli.playbooks.schema > docs/playbook.schema.json",
            "not": {"required": ["git", "upload"]},
        },
    )

    description: Text = Field(min_length=1, max_length=1000, description="Shown by `list`.")
    command: Command
    lock: Name | None = Field(
        default=None, max_length=1000, description="--lock: a lock name; may use params."
    )
    timeout: int | None = Field(
        default=None, ge=1, le=MAX_TIMEOUT_SECONDS, description="--timeout SECONDS"
    )
    wait_lock: float | None = Field(
        default=None, ge=0, le=MAX_WAIT_LOCK_SECONDS, description="--wait-lock SECONDS"
    )
    env: dict[EnvName, EnvValue] = Field(
        default_factory=dict,
        max_length=MAX_ENV_ENTRIES,
        description="--env NAME=VALUE for each entry; values may use params.",
        json_schema_extra=_names_match(ENV_NAME_PATTERN),
    )
    secrets: list[Annotated[str, Field(pattern=SECRET_SPEC_PATTERN)]] = Field(
        default_factory=list, description="--secret NAME or VAR=NAME for each entry."
    )
    image: Name | None = Field(default=None, min_length=1, max_length=256, description="--image")
    cpu: int | None = Field(default=None, ge=1, description="--cpu N (CPU units, 1024 = 1 vCPU)")
    memory: int | None = Field(default=None, ge=1, description="--memory MIB")
    git: Name | None = Field(
        default=None, min_length=1, max_length=2048, description="--git URL[#REF]"
    )
    git_subdir: Name | None = Field(default=None, min_length=1, description="--git-subdir PATH")
    git_secret: Name | None = Field(default=None, min_length=1, description="--git-secret NAME")
    upload: Name | None = Field(
        default=None,
        min_length=1,
        description="--upload: a directory relative to the repository root (the directory "
        "holding .mycli/); it may not lead outside it. Not with `git`.",
    )
    params: dict[ParamName, Param] = Field(
        default_factory=dict,
        description="Named values: --param NAME=VALUE.",
        json_schema_extra=_names_match(PARAM_NAME_PATTERN),
    )


# {{ params.NAME }}: braces no shell gives a meaning to, so `$VAR` and `${VAR}` stay the
# shell's. Any other {{ ... }} is a mistake, refused rather than sent as it is.
REFERENCE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
PARAM_REFERENCE = re.compile(r"\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*")

Location = tuple[str | int, ...]

# Each param reaches the command as this environment variable (a string command refers to it,
# see shell.py), so a value is data the shell expands, never text it parses.
PARAM_VARIABLE_PREFIX = "MYCLI_PARAM_"
# Where params are substituted; anywhere else a {{ is refused rather than taken as text.
TEMPLATED_KEYS = ("command", "env", "lock")


def param_variable(name: str) -> str:
    """The environment variable that carries the param `name`: MYCLI_PARAM_ and the name in
    capitals (two params differing only in case are refused, see `problems`)."""
    return PARAM_VARIABLE_PREFIX + name.upper()


def templated_fields(playbook: Playbook) -> list[tuple[Location, str]]:
    """Every string params are substituted into, with where it is in the file."""
    found: list[tuple[Location, str]] = []
    if isinstance(playbook.command, str):
        found.append((("command",), playbook.command))
    else:
        found.extend((("command", index), arg) for index, arg in enumerate(playbook.command))
    found.extend((("env", name), value) for name, value in playbook.env.items())
    if playbook.lock is not None:
        found.append((("lock",), playbook.lock))
    return found


def untemplated_braces(data: dict[str, Any]) -> list[tuple[Location, str]]:
    """Text holding {{ under a key where params are not substituted (image, git, secrets, a
    description...), found in the file's data before its types are checked; a param's
    default, choices and pattern are values and taken as they are."""
    found: list[tuple[Location, str]] = []

    def visit(value: Any, location: Location) -> None:
        if isinstance(value, str) and "{{" in value:
            found.append(
                (
                    location,
                    f"{{{{ ... }}}} in {'.'.join(map(str, location))}: params are used only "
                    f"in {', '.join(TEMPLATED_KEYS[:-1])} values and {TEMPLATED_KEYS[-1]}",
                )
            )
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, (*location, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, (*location, index))

    for key, value in data.items():
        if key == "params" and isinstance(value, dict):
            for name, param in value.items():
                if isinstance(param, dict) and "description" in param:
                    visit(param["description"], ("params", name, "description"))
        elif key not in TEMPLATED_KEYS:
            visit(value, (key,))
    return found


def problems(playbook: Playbook) -> list[tuple[Location, str]]:
    """What the model's types cannot say: rules across keys, each with where it applies."""
    found: list[tuple[Location, str]] = []
    if playbook.git is not None and playbook.upload is not None:
        found.append((("upload",), "`git` and `upload` are two sources of code: give one"))
    for key in ("git_subdir", "git_secret"):
        if getattr(playbook, key) is not None and playbook.git is None:
            found.append(((key,), f"`{key}` goes with `git`"))
    if playbook.git is not None:
        found.extend(_git_problems(playbook.git, playbook.git_subdir, playbook.git_secret))
    found.extend(_variable_problems(playbook))
    found.extend(_secret_problems(playbook))
    for name, param in playbook.params.items():
        if not param.quote and param.choices is None and param.pattern is None:
            found.append((("params", name, "quote"), "`quote: false` needs `choices` or `pattern`"))
        if param.default is not None:
            problem = param.problem_with(param.default)
            if problem is not None:
                found.append((("params", name, "default"), f"the default {problem}"))
    if playbook.lock is not None:
        found.extend(_lock_problems(playbook.lock))
    if isinstance(playbook.command, str) and len(playbook.command) > MAX_COMMAND_LENGTH:
        found.append(
            (
                ("command",),
                f"{len(playbook.command)} characters, over the limit of {MAX_COMMAND_LENGTH}",
            )
        )
    for location, text in templated_fields(playbook):
        if "{{" in REFERENCE.sub("", text):
            found.append((location, "a {{ without its }}: write {{ params.NAME }}"))
        for reference in REFERENCE.finditer(text):
            match = PARAM_REFERENCE.fullmatch(reference.group(1))
            if match is None:
                found.append(
                    (location, f"{reference.group()!r} is not a param: write {{{{ params.NAME }}}}")
                )
            elif match.group(1) not in playbook.params:
                declared = ", ".join(playbook.params) or "none"
                found.append(
                    (
                        location,
                        f"{reference.group()!r}: no param {match.group(1)!r} "
                        f"(declared: {declared})",
                    )
                )
    return found


def _lock_problems(lock: str) -> list[tuple[Location, str]]:
    """What no param value can mend in a lock: its own text's characters and length (a lock
    without params is checked whole, as `mycli exec --lock` checks it)."""
    if REFERENCE.search(lock) is None:
        return [] if is_valid_lock_name(lock) else [(("lock",), f"{lock!r}: {LOCK_NAME_RULE}")]
    text = REFERENCE.sub("", lock)
    wrong = sorted(set(re.sub(r"[A-Za-z0-9._/-]", "", text)))
    if wrong:
        return [(("lock",), f"{''.join(wrong)!r} in a lock name: {LOCK_NAME_RULE}")]
    if len(text) > MAX_LOCK_NAME_LENGTH:
        return [(("lock",), f"{len(text)} characters: {LOCK_NAME_RULE}")]
    return []


def _variable_problems(playbook: Playbook) -> list[tuple[Location, str]]:
    """Params whose variables collide, and env or secret variables in the params' space."""
    found: list[tuple[Location, str]] = []
    seen: dict[str, str] = {}
    for name in playbook.params:
        variable = param_variable(name)
        if variable in seen:
            found.append(
                (
                    ("params", name),
                    f"params {seen[variable]!r} and {name!r} differ only in case: both would "
                    f"be {variable}",
                )
            )
        seen[variable] = name
    reserved = f"names starting with {PARAM_VARIABLE_PREFIX} carry the params"
    for name in playbook.env:
        if name.startswith(PARAM_VARIABLE_PREFIX):
            found.append((("env", name), f"{name}: {reserved}"))
    for index, spec in enumerate(playbook.secrets):
        variable, _ = secret_reference(spec)
        if variable.startswith(PARAM_VARIABLE_PREFIX):
            found.append((("secrets", index), f"{variable}: {reserved}"))
    return found


def _secret_problems(playbook: Playbook) -> list[tuple[Location, str]]:
    """`secrets` checked by the rules `mycli exec --secret` and the API apply: each
    reference, and how many a run may use."""
    found: list[tuple[Location, str]] = []
    too_many = secret_count_problem(len(playbook.secrets))
    if too_many is not None:
        found.append((("secrets",), too_many))
    taken: set[str] = set()
    for index, entry in enumerate(playbook.secrets):
        problem = secret_reference_problem(entry, taken, playbook.env, ("env", "secrets"))
        if problem is not None:
            found.append((("secrets", index), problem))
        taken.add(secret_reference(entry)[0])
    return found


def _git_problems(
    source: str, subdir: str | None, secret: str | None
) -> list[tuple[Location, str]]:
    """`git` (URL[#REF]), `git_subdir` and `git_secret` checked by the platform's own rules,
    the ones `mycli exec --git` and the API apply, so a playbook fails here with its line."""
    url, ref = split_source(source)
    try:
        checked_source(url, ref, subdir, secret)
    except ValidationFailed as refused:
        field = refused.details.get("field")
        key = field if field in ("git_subdir", "git_secret") else "git"
        return [((str(key),), refused.message)]
    return []


def check_name(name: str) -> bool:
    """A playbook's name (its file's stem) as the platform records it."""
    return re.fullmatch(PLAYBOOK_NAME_PATTERN, name) is not None
