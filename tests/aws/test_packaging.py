"""The Lambda asset: small, free of local-only code, and each function importing only its own."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.handlers.catalog import ASSET_EXCLUDES, CONSOLE_ROUTES, ROUTES

LAMBDA_SRC = Path(__file__).parents[2] / "lambda_src"
MODULES = sorted({route.module for route in (*ROUTES, *CONSOLE_ROUTES)} | {"task_events", "reaper"})


def asset_files() -> list[Path]:
    def excluded(relative: str) -> bool:
        return any(
            fnmatch.fnmatch(relative, pattern) or relative.startswith(pattern + "/")
            for pattern in ASSET_EXCLUDES
        )

    return [
        path
        for path in LAMBDA_SRC.rglob("*")
        if path.is_file() and not excluded(str(path.relative_to(LAMBDA_SRC)))
    ]


def test_the_asset_is_under_one_megabyte_and_has_no_local_only_code() -> None:
    files = asset_files()
    assert sum(path.stat().st_size for path in files) < 1024 * 1024
    names = {str(path.relative_to(LAMBDA_SRC)) for path in files}
    assert "orchestrator/handlers/create_execution.py" in names
    assert not any(
        name.startswith(("orchestrator/local/", "orchestrator/adapters/local/")) for name in names
    )


def test_nothing_in_the_asset_imports_local_only_code() -> None:
    for path in asset_files():
        if path.suffix == ".py":
            text = path.read_text()
            assert "orchestrator.local" not in text, path
            assert "orchestrator.adapters.local" not in text, path


@pytest.mark.parametrize("module", MODULES)
def test_importing_a_function_loads_no_aws_client_or_adapter_yet(module: str) -> None:
    probe = (
        f"import importlib, json, sys; importlib.import_module('orchestrator.handlers.{module}'); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(("
        "'boto3', 'orchestrator.adapters.aws.dynamodb', 'orchestrator.adapters.aws.ecs', "
        "'orchestrator.adapters.aws.s3_logs', 'orchestrator.adapters.local', 'sqlite3')))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={
            "PYTHONPATH": str(LAMBDA_SRC),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PATH": "/usr/bin:/bin",
        },
    )
    assert json.loads(result.stdout) == []
