"""The services one request may need, built once per host (Lambda container or local server)."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.domain.executions import ExecutionService
from orchestrator.domain.images import ImageService
from orchestrator.domain.imports import ImportService
from orchestrator.domain.locks import LockService
from orchestrator.domain.secrets import SecretService
from orchestrator.domain.uploads import UploadService
from orchestrator.domain.users import UserService


@dataclass(frozen=True)
class Services:
    executions: ExecutionService
    locks: LockService
    users: UserService
    uploads: UploadService
    backend: str
    images: ImageService | None = None
    secrets: SecretService | None = None
    imports: ImportService | None = None
