"""The stack's synthesized CloudFormation template, as the twin reads it.

`synthesize` runs this repository's CDK app (the MycliStack with cdk.json's context, as
tests/infra does, without bundling: nothing is built) in a child Python process and caches
the template by a hash of what synthesis reads (app.py, cdk.json, stacks/, lambda_src/) and
of the context values given over cdk.json's (`-c mycli:key=value` as `cdk deploy` takes)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("app.py", "cdk.json", "stacks", "lambda_src")
SYNTH_TIMEOUT_SECONDS = 300


class TemplateError(RuntimeError):
    """The template cannot be synthesized, or lacks what the twin needs."""


@dataclass(frozen=True)
class Template:
    """A synthesized template: its resources by logical id."""

    body: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.body.get("Resources") or {}
        return resources

    def of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(logical id, Properties) of every resource of that type, in template order."""
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type:
                yield logical_id, resource.get("Properties") or {}

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = list(self.of_type(resource_type))
        if len(found) != 1:
            raise TemplateError(f"the template has {len(found)} {resource_type}, the twin needs 1")
        return found[0]

    def type_of(self, logical_id: str) -> str:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"the template has no resource {logical_id}")
        return str(resource.get("Type"))


def source_hash(root: Path = ROOT, context: dict[str, str] | None = None) -> str:
    """A hash of every file synthesis reads (caches are ignored) and of `context`."""
    digest = hashlib.sha256()
    digest.update(json.dumps(context or {}, sort_keys=True).encode() + b"\0")
    for name in SOURCES:
        path = root / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if not file.is_file() or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(str(file.relative_to(root)).encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mycli-twin"


def parse_context(pairs: list[str]) -> dict[str, str]:
    """`mycli:key=value` pairs (as `cdk deploy -c` takes them) as a dict; a pair without `=`
    or outside the stack's `mycli:` keys is a TemplateError naming it."""
    context: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.startswith("mycli:") or len(key) == len("mycli:"):
            raise TemplateError(f"a context value is mycli:KEY=VALUE, not {pair!r}")
        context[key] = value
    return context


def synthesize(
    root: Path = ROOT, cache: Path | None = None, context: dict[str, str] | None = None
) -> Template:
    """The template (with `context` over cdk.json's), from the cache when neither the sources
    nor the context changed. Concurrent callers each synthesize into a file of their own."""
    cache = cache or cache_dir()
    cached = cache / f"template-{source_hash(root, context)}.json"
    if cached.is_file():
        return Template(json.loads(cached.read_text()))
    cache.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.stem}.{os.getpid()}.part")
    result = subprocess.run(
        [sys.executable, "-m", "twin.synth_child", str(partial), json.dumps(context or {})],
        cwd=root,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise TemplateError(f"cdk synthesis failed: {result.stderr.strip()[-2000:]}")
    partial.replace(cached)
    return Template(json.loads(cached.read_text()))
