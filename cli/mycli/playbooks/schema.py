"""Prints the published JSON Schema of playbook files, generated from the model that
validates them: `python -m mycli.playbooks.schema > docs/playbook.schema.json`."""

from __future__ import annotations

import json
from typing import Any

from mycli.playbooks.model import Playbook

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def playbook_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a playbook file."""
    return {"$schema": DRAFT, **Playbook.model_json_schema()}


def schema_json() -> str:
    return json.dumps(playbook_schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(schema_json(), end="")
