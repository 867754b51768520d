"""A queued run's env values on one machine: sealed with Fernet under the data directory's
key (the one secrets use, secrets.KEY_FILE), bound to the execution they were sealed for.
`cryptography` loads on the first run that is queued with env values."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.adapters.local.secrets import LazyFernet


class FernetEnvSealer:
    def __init__(self, key_path: Path) -> None:
        self._key = LazyFernet(key_path)

    def seal(self, execution_id: str, env: dict[str, str]) -> str:
        payload = json.dumps({"execution_id": execution_id, "env": env})
        return self._key.fernet.encrypt(payload.encode()).decode("ascii")

    def unseal(self, execution_id: str, sealed: str) -> dict[str, str]:
        from cryptography.fernet import InvalidToken

        try:
            payload = json.loads(self._key.fernet.decrypt(sealed.encode("ascii")))
        except (InvalidToken, ValueError) as error:
            raise ValueError("the run's env values cannot be unsealed with this key") from error
        if payload.get("execution_id") != execution_id:
            raise ValueError("the sealed env values are another execution's")
        return {str(name): str(value) for name, value in payload["env"].items()}
