"""`mycli migrate`'s steps: each kind of record moved from the source platform to the target
API, skipping what is already there (by key hash, name or execution id), so a second run
changes nothing and an interrupted one continues. Secret values go only into the request
that stores them; nothing here prints one."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mycli.client import ApiClient, api_path
from mycli.errors import ApiError
from mycli.migrate_source import SourcePlatform
from orchestrator.domain.models import Execution, Image, LogChunk


@dataclass
class Tally:
    """One kind's progress: how many there are, moved now, found already there, refused."""

    kind: str
    total: int = 0
    imported: int = 0
    present: int = 0
    refused: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.imported + self.present + len(self.refused)

    def __str__(self) -> str:
        return f"{self.kind} {self.done}/{self.total}"


Report = Callable[[Tally], None]


class Migration:
    def __init__(self, source: SourcePlatform, target: ApiClient, report: Report) -> None:
        self._source = source
        self._target = target
        self._report = report
        self.running_left = 0  # executions not finished at the source: not moved

    def users(self) -> Tally:
        keys = self._source.keys()
        tally = Tally("users", total=len(keys))
        for record in keys:
            body = {
                "user_email": record.user_email,
                "role": record.role.value,
                "created_at": record.created_at,
                "revoked": record.revoked,
                "revoked_at": record.revoked_at,
                "last_used": record.last_used,
            }
            path = api_path("import", "keys", record.api_key_hash)
            label = f"{record.user_email} (key {record.api_key_hash[:8]}…)"
            self._count(tally, label, self._imported, path, body)
        self._report(tally)
        return tally

    def images(self) -> Tally:
        images = self._source.images()
        tally = Tally("images", total=len(images))
        there = {image["name"] for image in self._target.get("/images")["items"]}
        for image in images:
            if image.name in there:
                tally.present += 1
                continue
            self._count(tally, f"image {image.name}", self._register, image)
        self._report(tally)
        return tally

    def secrets(self) -> Tally:
        moving = self._source.secrets()
        tally = Tally("secrets", total=len(moving))
        there = {secret["name"] for secret in self._target.get("/secrets")["items"]}
        for item in moving:
            if item.secret.name in there:
                tally.present += 1
                continue
            body = {
                "value": item.value,
                "description": item.secret.description,
                "images": list(item.secret.images),
            }
            path = api_path("secrets", item.secret.name)
            self._count(tally, f"secret {item.secret.name}", self._set, path, body)
        self._report(tally)
        return tally

    def executions(self, report_every: int = 25) -> Tally:
        everything = self._source.executions()
        finished = [e for e in everything if e.status.is_terminal]
        self.running_left = len(everything) - len(finished)
        tally = Tally("executions", total=len(finished))
        for number, execution in enumerate(finished, start=1):
            label = f"execution {execution.execution_id}"
            self._count(tally, label, self._execution, execution)
            if number % report_every == 0 and number < len(finished):
                self._report(tally)
        self._report(tally)
        return tally

    def _execution(self, execution: Execution) -> bool:
        """Moved now (True) or already there (False); its output first, then its record."""
        path = api_path("import", "executions", execution.execution_id)
        body = {
            "execution": execution.to_dict(),
            "output_bytes": self._source.output_size(execution),
        }
        try:
            return bool(self._put(path, body)["imported"])
        except ApiError as error:
            stored = error.details.get("stored") if error.status == 400 else None
            if not isinstance(stored, int):
                raise
        for chunks in self._source.output(execution, stored):
            self._put(path + "/output", {"chunks": [_chunk(chunk) for chunk in chunks]})
        return bool(self._put(path, body)["imported"])

    def _register(self, image: Image) -> bool:
        body: dict[str, Any] = {
            "name": image.name,
            "uri": image.uri,
            "description": image.description,
            "cpu": image.cpu,
            "memory": image.memory,
            "max_cpu": image.max_cpu,
            "max_memory": image.max_memory,
            "default": image.is_default,
            "secrets": list(image.secrets),
        }
        if image.task_role_arn:
            body["task_role_arn"] = image.task_role_arn
        try:
            self._target.post("/images", body)
        except ApiError as error:
            if error.status == 409:  # registered meanwhile
                return False
            raise
        return True

    def _set(self, path: str, body: dict[str, Any]) -> bool:
        self._target.request("PUT", path, body=body)
        return True

    def _imported(self, path: str, body: dict[str, Any]) -> bool:
        return bool(self._put(path, body)["imported"])

    def _put(self, path: str, body: dict[str, Any]) -> Any:
        return self._target.request("PUT", path, body=body)

    @staticmethod
    def _count(tally: Tally, label: str, move: Callable[..., bool], *args: Any) -> None:
        """Run one move; a refusal (409: there with other content) is noted, not fatal."""
        try:
            moved = move(*args)
        except ApiError as error:
            if error.status != 409:
                raise
            tally.refused.append(f"{label}: {error.message}")
            return
        if moved:
            tally.imported += 1
        else:
            tally.present += 1


def _chunk(chunk: LogChunk) -> dict[str, Any]:
    return {
        "offset": chunk.offset,
        "stream": chunk.stream.value,
        "timestamp": chunk.timestamp,
        "data": base64.b64encode(chunk.data).decode("ascii"),
    }
