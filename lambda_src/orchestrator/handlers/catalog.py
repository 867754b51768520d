"""Which function serves which route: read by the CDK stack and by the tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RouteFunction:
    method: str
    path: str
    module: str  # orchestrator.handlers.<module>.handler

    @property
    def handler(self) -> str:
        return f"orchestrator.handlers.{self.module}.handler"


ROUTES = (
    RouteFunction("GET", "/health", "health"),
    RouteFunction("GET", "/me", "me"),
    RouteFunction("POST", "/executions", "create_execution"),
    RouteFunction("GET", "/executions", "list_executions"),
    RouteFunction("GET", "/quota", "quota"),
    RouteFunction("GET", "/executions/{execution_id}", "get_execution"),
    RouteFunction("GET", "/executions/{execution_id}/logs", "get_execution_logs"),
    RouteFunction("POST", "/executions/{execution_id}/cancel", "cancel_execution"),
    RouteFunction("GET", "/locks", "list_locks"),
    RouteFunction("DELETE", "/locks/{lock_name}", "release_lock"),
    RouteFunction("POST", "/locks/{lock_name}/hold", "hold_lock"),
    RouteFunction("GET", "/lock-history", "lock_history"),
    RouteFunction("POST", "/users", "create_user"),
    RouteFunction("GET", "/users", "list_users"),
    RouteFunction("DELETE", "/users/{email}", "revoke_user"),
    RouteFunction("POST", "/uploads", "create_upload"),
    RouteFunction("POST", "/images", "create_image"),
    RouteFunction("GET", "/images", "list_images"),
    RouteFunction("PATCH", "/images/{name}", "update_image"),
    RouteFunction("DELETE", "/images/{name}", "delete_image"),
    RouteFunction("PUT", "/secrets/{name}", "put_secret"),
    RouteFunction("GET", "/secrets", "list_secrets"),
    RouteFunction("DELETE", "/secrets/{name}", "delete_secret"),
    RouteFunction("PUT", "/import/keys/{api_key_hash}", "import_key"),
    RouteFunction("PUT", "/import/executions/{execution_id}/output", "import_output"),
    RouteFunction("PUT", "/import/executions/{execution_id}", "import_execution"),
)

# The web console's files (no API key; not API operations): one function for both resources.
CONSOLE_ROUTES = (
    RouteFunction("GET", "/ui", "console"),
    RouteFunction("GET", "/ui/{proxy+}", "console"),
)

# What the Lambda asset (lambda_src/) leaves out: local-only code, caches, and the run agent's
# image (its Dockerfile and requirements; stacks/run_task.py builds it from lambda_src/ too).
ASSET_EXCLUDES = (
    "agent_image",
    "orchestrator/local",
    "orchestrator/adapters/local",
    "**/__pycache__",
    "**/*.pyc",
)
