"""The run agent when its command container does not end as planned: killed with
everything in it (SIGKILL, out of memory) before it could write `exit`; a command that
closes its own stdout and stderr early (not a dead container); a command container that
runs as another user than the agent (non-root images)."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_world import AgentWorld, wait_for

from archives import directory, member, tarball, write
from git_repos import make_repository
from orchestrator.agent.layout import COMMAND_CONTAINER_LOST, ENV_DIR, STARTED_FILE, WORK_DIR
from orchestrator.agent.manifest import GitSource
from orchestrator.agent.run import LOST_GRACE_SECONDS
from orchestrator.unpack import safe_extract
from twin.s3_front import policy_front

NOBODY = 65534
AS_NOBODY = (
    "setpriv",
    "--reuid",
    str(NOBODY),
    "--regid",
    str(NOBODY),
    "--clear-groups",
    "sh",
)


def test_a_command_container_killed_whole_ends_the_run_promptly_without_an_exit_code(
    agents: AgentWorld,
) -> None:
    # Given a command printing ticks, its container's processes in one group
    manifest = agents.manifest("touch started; while :; do echo tick; sleep 0.05; done")
    killed_at = 0.0

    def kill_container(agent: object, entry: object) -> None:
        nonlocal killed_at
        wait_for(agents.workspace(manifest) / WORK_DIR / "started")
        time.sleep(0.2)
        # When every process of the container is killed (as SIGKILL or the OOM killer
        # ends a container), before the entry could write `exit`
        killed_at = time.monotonic()
        os.killpg(entry.pid, signal.SIGKILL)  # type: ignore[attr-defined]

    ran = agents.run(manifest, kill_container)

    # Then the agent ends within a few seconds (not at the run's timeout) with its
    # result: no exit code, and why; the output so far stored and ended
    assert time.monotonic() - killed_at < LOST_GRACE_SECONDS + 3
    assert ran.entry_code == -signal.SIGKILL and ran.agent_code == 0
    assert ran.result is not None
    assert (ran.result.exit_code, ran.result.failure) == (None, None)
    assert ran.result.exit_unknown == COMMAND_CONTAINER_LOST
    assert ran.complete and ran.stdout.startswith(b"tick\n")
    assert COMMAND_CONTAINER_LOST in ran.agent_log
    assert not (ran.workspace / ENV_DIR).exists()


@pytest.mark.parametrize("shell", [("sh",), ("busybox", "sh")])
def test_a_command_closing_its_own_output_early_is_not_taken_for_a_dead_container(
    agents: AgentWorld, shell: tuple[str, ...]
) -> None:
    # Given a command that closes its stdout and stderr, then lives on past the grace
    found = shutil.which(shell[0])
    assert found is not None, f"{shell[0]} is not installed: this case cannot run"
    manifest = agents.manifest(
        f"echo before; echo err >&2; exec >&- 2>&-; sleep {LOST_GRACE_SECONDS + 1}; exit 4"
    )

    # When it runs
    ran = agents.run(manifest, shell=(found, *shell[1:]))

    # Then its own exit is recorded: the entry held the streams until it ended
    assert ran.result is not None
    assert (ran.result.exit_code, ran.result.exit_unknown) == (4, None)
    assert (ran.agent_code, ran.entry_code) == (0, 4)
    assert (ran.stdout, ran.stderr) == (b"before\n", b"err\n")
    assert (ran.workspace / STARTED_FILE).exists()


@pytest.fixture
def shared_agents(output_bucket: str, moto_server: str) -> Iterator[AgentWorld]:
    """Agents whose workspaces another user can reach (pytest's tmp_path is root's 0700)."""
    root = Path(tempfile.mkdtemp(prefix="mycli-agent-"))
    os.chmod(root, 0o755)
    try:
        with policy_front(moto_server) as (front, policy):
            yield AgentWorld(root, moto_server, front, policy)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_command_container_running_as_another_user_reads_its_inputs_and_work_tree(
    shared_agents: AgentWorld, tmp_path: Path
) -> None:
    # Given the agent as root, the command container as nobody, and a run with a git
    # source and an upload whose files are private to their owner
    if os.geteuid() != 0:
        pytest.skip("running the entry as another user needs root")
    repo = make_repository(tmp_path / "git", "repo")
    upload = tarball(
        directory("private", 0o700),
        member("private/notes.txt", b"private notes\n", 0o600),
        member("tool.sh", b"echo tool ran\n", 0o700),
    )
    command = (
        "(cd app && ./run.sh); cat private/notes.txt; sh ./tool.sh && ./tool.sh; "
        'printf "%s|%s\\n" "$V" "$(id -u)"; cat; touch made-here'
    )
    manifest = shared_agents.manifest(
        command,
        env={"V": "value"},
        stdin=b"from stdin\n",
        git=GitSource(url=f"file://{repo.path}", ref="v1", subdir=None),
        upload=upload,
    )

    # When the entry runs as that user
    ran = shared_agents.run(manifest, shell=AS_NOBODY)

    # Then the command read everything it was given, wrote its exit, and its variables
    # are gone (removed by the agent: the entry may not)
    assert ran.stderr == b""
    assert ran.stdout == (
        b"version 1 in app\nprivate notes\ntool ran\ntool ran\nvalue|65534\nfrom stdin\n"
    )
    assert ran.result is not None and ran.result.exit_code == 0
    assert (ran.agent_code, ran.entry_code) == (0, 0)
    work = ran.workspace / WORK_DIR
    assert (work / "made-here").stat().st_uid == NOBODY
    assert stat.S_IMODE((work / "private" / "notes.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((work / "tool.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((work / ".git").stat().st_mode) == 0o755
    assert not (ran.workspace / ENV_DIR).exists()


def test_an_unpack_readable_by_all_gives_everyone_read_and_the_owners_execute(
    tmp_path: Path,
) -> None:
    # Given members private to their owner (the agent's command may run as another user)
    archive = write(
        tmp_path / "a.tgz",
        directory("locked", 0o700),
        member("locked/inner.txt", b"inner", 0o600),
        member("implied/run.sh", b"x", 0o700),
        member("plain.txt", b"p", 0o640),
    )

    # When the agent's unpack takes them
    safe_extract(archive, tmp_path / "out", readable=True)

    # Then all can read them (and search, and execute what the owner may)
    out = tmp_path / "out"
    modes = {
        name: stat.S_IMODE((out / name).stat().st_mode)
        for name in ("locked", "locked/inner.txt", "implied", "implied/run.sh", "plain.txt")
    }
    assert modes == {
        "locked": 0o755,
        "locked/inner.txt": 0o644,
        "implied": 0o755,
        "implied/run.sh": 0o755,
        "plain.txt": 0o644,
    }
