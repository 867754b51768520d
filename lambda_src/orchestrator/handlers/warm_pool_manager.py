"""The warm pools' manager (docs/warm-runners.md), run every minute: a placeholder so the
stack synthesizes; the runtime's module replaces it."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> None:
    raise NotImplementedError("the warm pool manager is not built yet (docs/warm-runners.md)")
