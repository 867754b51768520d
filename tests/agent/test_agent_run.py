"""The run agent and the command container's entry, both real processes sharing a
workspace, against S3 and KMS on a moto server: what a run leaves in the output store."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import boto3
import pytest
from agent_world import WAIT_SECONDS, AgentWorld, signal_when, wait_for

from archives import device, member, tarball
from git_repos import make_repository
from moto_aws import CODE_BUCKET, REGION
from orchestrator.adapters.aws.kms_env import KmsEnvSealer
from orchestrator.adapters.aws.run_inputs import RunInputs, manifest_key
from orchestrator.adapters.aws.s3_output import SIGV4
from orchestrator.adapters.clock import SystemClock
from orchestrator.agent.layout import (
    ABORT_FILE,
    AGENT_EXIT_NO_MANIFEST,
    AGENT_EXIT_STORE_REFUSED,
    WORK_DIR,
)
from orchestrator.agent.manifest import GitSource, parse_manifest
from orchestrator.agent.run import STORE_REFUSED
from orchestrator.domain.models import GitSource as DomainGitSource
from orchestrator.domain.models import LaunchSpec, SecretValues
from orchestrator.output_segments import end_key
from orchestrator.unpack import REFUSALS


def test_a_command_output_is_stored_byte_for_byte_with_the_streams_apart(
    agents: AgentWorld,
) -> None:
    # Given a command writing a partial line, invalid UTF-8 and both streams
    command = "printf 'partial'; printf '\\377\\376 bad\\r' >&2; printf ' more\\n'; exit 3"

    # When the agent and the entry run it
    ran = agents.run(agents.manifest(command))

    # Then the bytes are exact, the streams apart, the exit code recorded, the output ended
    assert (ran.stdout, ran.stderr) == (b"partial more\n", b"\xff\xfe bad\r")
    assert ran.result is not None
    assert (ran.result.exit_code, ran.result.failure, ran.result.git_commit) == (3, None, None)
    assert (ran.agent_code, ran.entry_code, ran.complete) == (0, 3, True)
    assert all(line.startswith("mycli-agent: ") for line in ran.agent_log.splitlines())


@pytest.mark.parametrize(("command", "code"), [("true", 0), ("exit 3", 3), ("kill -HUP $$", 129)])
def test_the_commands_exit_code_is_the_results(agents: AgentWorld, command: str, code: int) -> None:
    ran = agents.run(agents.manifest(command))

    assert ran.result is not None and ran.result.exit_code == code
    assert (ran.agent_code, ran.entry_code) == (0, code)


def test_output_past_the_log_cap_is_dropped_and_the_cut_recorded(agents: AgentWorld) -> None:
    # Given a log cap of 1000 bytes and a command printing far more (more than a pipe holds)
    command = "head -c 300000 /dev/zero | tr '\\0' x; echo done >&2"

    # When it runs
    ran = agents.run(agents.manifest(command, max_log_bytes=1000))

    # Then the first 1000 bytes are kept, the cut is in the result, and the command was
    # never blocked by the dropped rest
    assert ran.stdout == b"x" * 1000 and ran.stderr == b""
    assert ran.result is not None
    assert (ran.result.exit_code, ran.result.truncated_at, ran.truncated_at) == (0, 1000, 1000)


def test_env_values_reach_the_command_as_data_and_secrets_are_masked_on_both_streams(
    agents: AgentWorld,
) -> None:
    # Given values a shell would interpret if they were quoted into it, and a secret
    env = {
        "QUOTED": 'it\'s "here" `id` $(id) ${HOME}',
        "LINES": "one\ntwo\n\n",
        "EMPTY": "",
    }
    secret = "hunter2-s3cr3t-value"
    command = 'printf "%s|" "$QUOTED" "$LINES" "$EMPTY"; echo "$SECRET"; echo "x$SECRET" >&2'

    # When the run's values are sealed with KMS, and the agent opens them
    ran = agents.run(agents.manifest(command, env=env, secrets={"SECRET": secret}))

    # Then each value arrived as it is, the secret masked wherever it was printed
    assert ran.stdout == (b'it\'s "here" `id` $(id) ${HOME}|one\ntwo\n\n||***\n')
    assert ran.stderr == b"x***\n"
    assert secret not in ran.agent_log
    # and the grant is retired, and the values left no file behind
    assert agents.grants() == []
    for path in ran.workspace.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_stdin_is_the_uploaded_object(agents: AgentWorld) -> None:
    ran = agents.run(agents.manifest("cat; echo end", stdin=b"line\nno newline \x00\xff"))

    assert ran.stdout == b"line\nno newline \x00\xffend\n"


def test_an_upload_is_unpacked_into_the_commands_directory(agents: AgentWorld) -> None:
    upload = tarball(member("hello.txt", b"hi there\n"), member("sub/run.sh", b"echo sub\n"))

    ran = agents.run(agents.manifest("cat hello.txt; sh sub/run.sh; pwd", upload=upload))

    assert ran.stdout.startswith(b"hi there\nsub\n")
    assert ran.stdout.endswith(f"/{WORK_DIR}\n".encode())
    assert ran.result is not None and ran.result.exit_code == 0


def test_a_hostile_upload_is_refused_and_the_command_never_runs(agents: AgentWorld) -> None:
    # Given an upload holding a device
    manifest = agents.manifest("touch ran", upload=tarball(member("a"), device("dev/null")))

    # When the run starts
    ran = agents.run(manifest)

    # Then the result says why, the entry was told to abort, and nothing ran
    assert ran.result is not None
    assert ran.result.failure is not None
    assert ran.result.failure == f"upload refused: {REFUSALS['special'][1]}: dev/null"
    assert (ran.result.exit_code, ran.agent_code, ran.entry_code) == (None, 0, 125)
    workspace = agents.workspace(manifest)
    assert (workspace / ABORT_FILE).exists()
    assert not (workspace / WORK_DIR / "ran").exists()
    assert ran.stdout == ran.stderr == b""


def test_a_git_source_is_checked_out_and_its_commit_reported(
    agents: AgentWorld, tmp_path: Path
) -> None:
    # Given a real repository, named by a file:// URL, and a subdirectory of it
    repo = make_repository(tmp_path / "git", "repo")
    git = GitSource(url=f"file://{repo.path}", ref="v1", subdir="app")

    # When the run checks it out
    ran = agents.run(agents.manifest("./run.sh", git=git))

    # Then the command ran in app/ of v1, and the result has its commit
    assert ran.stdout == b"version 1 in app\n"
    assert ran.result is not None
    assert (ran.result.exit_code, ran.result.git_commit) == (0, repo.first)


def test_stdin_is_fetched_before_the_git_checkout_while_its_url_is_fresh(
    agents: AgentWorld, tmp_path: Path
) -> None:
    # Given a run with a git source and stdin (the manifest's GET URLs live 10 minutes)
    repo = make_repository(tmp_path / "git", "repo")
    git = GitSource(url=f"file://{repo.path}", ref="v1", subdir="app")

    # When it runs
    ran = agents.run(agents.manifest("cat", git=git, stdin=b"from stdin\n"))

    # Then stdin was fetched first: a checkout takes as long as the repository does
    assert ran.stdout == b"from stdin\n"
    assert ran.agent_log.index("fetched stdin") < ran.agent_log.index("checked out")


def test_a_git_source_that_cannot_be_fetched_fails_the_run_with_the_reason(
    agents: AgentWorld, tmp_path: Path
) -> None:
    repo = make_repository(tmp_path / "git", "repo")
    git = GitSource(url=f"file://{repo.path}", ref="no-such-branch")

    ran = agents.run(agents.manifest("touch ran", git=git))

    assert ran.result is not None and ran.result.failure is not None
    assert ran.result.failure.startswith("git checkout failed: git ref 'no-such-branch' not found")
    assert (ran.agent_code, ran.entry_code) == (0, 125)


def test_sigterm_to_the_command_container_is_exit_143(agents: AgentWorld) -> None:
    # Given a command that has started and waits
    manifest = agents.manifest("echo started; touch started; exec sleep 30")
    started = agents.workspace(manifest) / WORK_DIR / "started"

    # When its container is told to stop (as ECS does)
    ran = agents.run(manifest, lambda agent, entry: signal_when(started, entry, signal.SIGTERM))

    # Then the command got it, and its exit is recorded with the output
    assert ran.result is not None and ran.result.exit_code == 143
    assert (ran.agent_code, ran.entry_code, ran.stdout) == (0, 143, b"started\n")


def test_a_stopped_task_stops_both_and_records_the_commands_exit(agents: AgentWorld) -> None:
    # Given a command that handles TERM by printing and exiting 7
    manifest = agents.manifest(
        "trap 'kill $!; echo bye; exit 7' TERM; touch started; sleep 30 & wait"
    )
    started = agents.workspace(manifest) / WORK_DIR / "started"

    def stop_task(agent: object, entry: object) -> None:
        wait_for(started)
        for process in (agent, entry):
            process.send_signal(signal.SIGTERM)  # type: ignore[attr-defined]

    # When StopTask signals both containers
    ran = agents.run(manifest, stop_task)

    # Then the agent waited for the command's own exit and its last words
    assert ran.result is not None and ran.result.exit_code == 7
    assert (ran.agent_code, ran.entry_code, ran.stdout) == (0, 7, b"bye\n")


def test_an_agent_killed_mid_run_writes_no_result_and_the_command_still_ends(
    agents: AgentWorld,
) -> None:
    # Given a command printing ticks
    manifest = agents.manifest("touch started; while :; do echo tick; sleep 0.05; done")
    agent, entry = agents.start(manifest)
    try:
        wait_for(agents.workspace(manifest) / WORK_DIR / "started")

        # When the agent is killed
        agent.kill()
        agent.wait(timeout=WAIT_SECONDS)

        # Then the command's next write ends it (its reader is gone), and no result exists
        assert entry.wait(timeout=WAIT_SECONDS) == 141
    finally:
        for process in (agent, entry):
            if process.poll() is None:
                process.kill()
                process.wait()
        assert agent.stderr is not None and entry.stdout is not None and entry.stderr is not None
        for pipe in (agent.stderr, entry.stdout, entry.stderr):
            pipe.close()
    ran = agents.read(manifest, agent.returncode, "", entry.returncode)
    assert ran.result is None
    assert end_key(manifest.execution_id) not in ran.keys


def test_an_expired_output_slot_fails_the_agent_and_nothing_is_stored(agents: AgentWorld) -> None:
    # Given a slot whose policy has expired
    manifest = agents.manifest("echo hello", slot_timeout=-4000)

    # When the agent tries to store the output
    ran = agents.run(manifest)

    # Then it exits with its code for a refused store, having stored nothing
    assert ran.agent_code == AGENT_EXIT_STORE_REFUSED
    assert "the output store refused a write" in ran.agent_log
    assert "Policy expired" in ran.agent_log
    assert ran.result is None and ran.keys == [f"runs/{manifest.execution_id}/manifest.json"]


def test_a_refused_segment_fails_the_run_with_the_reason_in_the_result(
    agents: AgentWorld,
) -> None:
    # Given a store that refuses the first segment, then takes objects again
    agents.policy.faults = [403]

    # When a command prints
    ran = agents.run(agents.manifest("echo hello; sleep 0.5; echo more"))

    # Then the agent stops with the reason in the result, the end marker never written
    assert ran.agent_code == AGENT_EXIT_STORE_REFUSED
    assert ran.result is not None and ran.result.failure is not None
    assert ran.result.failure.startswith(STORE_REFUSED)
    assert ran.result.exit_code is None
    assert not ran.complete


@pytest.mark.parametrize(("stored", "status"), [(True, 403), (False, 404)])
def test_a_manifest_that_cannot_be_read_is_the_agents_exit_3_and_an_abort(
    agents: AgentWorld, stored: bool, status: int
) -> None:
    # Given a manifest URL that S3 refuses (not signed), or of an object that is not there
    manifest = agents.manifest("touch ran")
    key = f"runs/{manifest.execution_id}/manifest.json"
    if stored:
        agents.put(key, manifest.to_json())
    refused = f"{agents.moto}/{CODE_BUCKET}/{key}"

    # When the agent starts with it
    agent, entry = agents.start(manifest, manifest_url=refused)
    _, log = agent.communicate(timeout=WAIT_SECONDS)

    # Then it exits 3 with the reason, no result, and the command container is told to abort
    assert entry.wait(timeout=WAIT_SECONDS) == 125
    for pipe in (entry.stdout, entry.stderr):
        assert pipe is not None
        pipe.close()
    assert agent.returncode == AGENT_EXIT_NO_MANIFEST
    assert log.startswith(f"mycli-agent: cannot read the manifest: HTTP {status}")
    assert not (agents.workspace(manifest) / WORK_DIR / "ran").exists()
    assert agents.read(manifest, 3, log, 125).result is None


def test_busybox_sh_runs_the_entry_too(agents: AgentWorld) -> None:
    # Given busybox's sh (an alpine image's), which must be here for this case
    busybox = shutil.which("busybox")
    assert busybox is not None, "busybox is not installed: the entry's busybox case cannot run"

    # When it runs the entry
    manifest = agents.manifest("printf '%s' \"$V\"; exit 4", env={"V": "a 'b'\n"})
    ran = agents.run(manifest, shell=(busybox, "sh"))

    # Then the run is the same as under dash
    assert (ran.stdout, ran.entry_code) == (b"a 'b'\n", 4)
    assert ran.result is not None and ran.result.exit_code == 4


def test_the_manifest_the_create_function_publishes_is_what_the_agent_runs(
    agents: AgentWorld, tmp_path: Path
) -> None:
    # Given a launch with env values, a secret, stdin and a git source, published by the
    # create function's own adapter (RunInputs, KmsEnvSealer) on the moto server
    repo = make_repository(tmp_path / "git", "repo")
    agents.put("uploads/stdin-1", b"from stdin\n")
    spec = LaunchSpec(
        execution_id="published-1",
        command='cat; echo "$GREETING $TOKEN"; cat VERSION',
        env={"GREETING": "hello 'you'"},
        timeout_seconds=60,
        stdin_location="uploads/stdin-1",
        secrets=SecretValues(TOKEN="tok-0123456789"),
        git=DomainGitSource(url=f"file://{repo.path}", ref="main"),
    )
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=agents.moto, config=SIGV4)
    sealer = KmsEnvSealer(agents.kms, agents.key_id, "arn:aws:iam::123456789012:role/task")
    inputs = RunInputs(s3, CODE_BUCKET, sealer, clock=SystemClock(), max_log_bytes=10_000)
    url = inputs.publish(spec)
    manifest = parse_manifest(
        agents.s3.get_object(Bucket=CODE_BUCKET, Key=manifest_key(spec.execution_id))["Body"].read()
    )

    # When the agent runs it
    ran = agents.run(manifest, manifest_url=url)

    # Then everything arrived, the secret masked, the commit reported, the grant retired
    assert ran.stdout == b"from stdin\nhello 'you' ***\n3\n"
    assert ran.result is not None
    assert (ran.result.exit_code, ran.result.git_commit) == (0, repo.main)
    assert agents.grants() == []
