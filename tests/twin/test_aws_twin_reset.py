"""`./scripts/aws-twin reset` on a running twin: a run holding a lock is stopped, every
record, key, secret and output is gone, and a new admin key (in the profile) works, as on
a freshly deployed stack; on a twin that is not running it says so (exit 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from twin.runstate import marked_processes

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "scripts" / "aws-twin")
MYCLI = str(Path(sys.executable).parent / "mycli")


def run(
    *argv: str, home: Path, stdin: str | None = None, key: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "MYCLI_PROFILE": "twin"}
    if key is not None:
        env["MYCLI_API_KEY"] = key
    return subprocess.run(
        list(argv),
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_given_a_twin_with_a_running_run_when_reset_then_it_is_a_fresh_deployment(
    tmp_path: Path,
) -> None:
    run_dir = str(tmp_path / "run")
    assert run(SCRIPT, "up", "--dir", run_dir, home=tmp_path).returncode == 0
    try:
        # Given a secret, a user and a run holding a lock
        old_key = run(MYCLI, "admin", "add-user", "a@example.com", home=tmp_path).stdout.strip()
        assert run(MYCLI, "admin", "secrets", "set", "s", home=tmp_path, stdin="v").returncode == 0
        started = run(MYCLI, "exec", "-d", "--lock", "l", "--", "sleep 300", home=tmp_path)
        execution_id = started.stdout.strip()
        assert started.returncode == 0 and execution_id, started.stderr

        # When the twin is reset
        reset = run(SCRIPT, "reset", "--dir", run_dir, home=tmp_path)

        # Then the run's processes are gone and nothing stored is left; the new key works
        assert reset.returncode == 0, reset.stderr
        assert "Admin API key (saved in profile 'twin'): " in reset.stdout
        assert marked_processes("MYCLI_EXECUTION_ID", execution_id) == []
        listed = run(MYCLI, "list", "-o", "json", home=tmp_path)
        assert json.loads(listed.stdout)["items"] == [], listed.stderr
        locks = run(MYCLI, "locks", "list", "-o", "json", home=tmp_path)
        assert json.loads(locks.stdout) == {"locks": []}
        assert run(MYCLI, "status", execution_id, home=tmp_path).returncode == 4
        assert "\ns " not in run(MYCLI, "admin", "secrets", "list", home=tmp_path).stdout
        assert run(MYCLI, "whoami", home=tmp_path).stdout.startswith("admin@mycli (admin)")
        assert run(MYCLI, "whoami", home=tmp_path, key=old_key).returncode == 3
        again = run(MYCLI, "exec", "--lock", "l", "--", "echo again", home=tmp_path)
        assert (again.returncode, again.stdout) == (0, "again\n"), again.stderr
    finally:
        run(SCRIPT, "down", "--dir", run_dir, home=tmp_path)


def test_given_no_twin_when_reset_then_it_says_so(tmp_path: Path) -> None:
    result = run(SCRIPT, "reset", "--dir", str(tmp_path / "run"), home=tmp_path)

    assert result.returncode == 1
    assert "not running" in result.stderr
