"""The embedded runner's git checkout, with real git: a bare repository on disk (file://)
and served over HTTP on 127.0.0.1 (`git http-backend`, basic auth on the private one).
Branches, tags and commits; the subdirectory; failures that end the run with a reason;
timeouts and cancels during the checkout; a credential carried in the LaunchSpec that
reaches the server and nothing else."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from data_files import stored_files
from git_repos import PRIVATE_PASSWORD, PRIVATE_USER, GitHttpServer, Repository, make_repository
from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.logfiles import LogFileReader
from orchestrator.adapters.local.runner import LocalProcessRunner
from orchestrator.domain.models import Execution, GitSource, LaunchSpec
from support import started_execution

CREDENTIAL = f"{PRIVATE_USER}:{PRIVATE_PASSWORD}"


@dataclass
class Repos:
    public: Repository
    private: Repository
    server: GitHttpServer

    @property
    def http(self) -> str:
        return f"{self.server.url}/public.git"

    @property
    def file(self) -> str:
        return f"file://{self.public.path}"

    @property
    def private_http(self) -> str:
        return f"{self.server.url}/private/secret.git"


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repos]:
    root = tmp_path_factory.mktemp("git")
    public = make_repository(root, "public.git")
    private = make_repository(root / "private", "secret.git")
    server = GitHttpServer(root).start()
    yield Repos(public, private, server)
    server.stop()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An HTTP URL whose server accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/slow.git"
    listener.close()


@dataclass
class Listener:
    commits: dict[str, str] = field(default_factory=dict)
    ends: dict[str, tuple[str, object]] = field(default_factory=dict)
    ended: threading.Condition = field(default_factory=threading.Condition)

    def on_running(self, execution_id: str) -> None:
        return None

    def on_log_truncated(self, execution_id: str, offset: int) -> None:
        return None

    def on_git_commit(self, execution_id: str, commit: str) -> None:
        self.commits[execution_id] = commit

    def on_exit(self, execution_id: str, exit_code: int, *, timed_out: bool) -> None:
        self._end(execution_id, ("exit", (exit_code, timed_out)))

    def on_setup_failed(self, execution_id: str, reason: str) -> None:
        self._end(execution_id, ("setup_failed", reason))

    def _end(self, execution_id: str, how: tuple[str, object]) -> None:
        with self.ended:
            self.ends[execution_id] = how
            self.ended.notify_all()

    def wait(self, execution_id: str, timeout: float = 20) -> tuple[str, object]:
        with self.ended:
            assert self.ended.wait_for(lambda: execution_id in self.ends, timeout), "no end"
        return self.ends[execution_id]


@dataclass
class Runner:
    runner: LocalProcessRunner
    listener: Listener
    data: Path

    def launch(
        self, execution_id: str, command: str, git: GitSource, timeout: int = 30
    ) -> Execution:
        spec = LaunchSpec(execution_id, command, {}, timeout, git=git)
        result = self.runner.launch(spec)
        return started_execution(execution_id, command, result.task_ref, result.log_stream_name)

    def work_left(self) -> list[str]:
        """What is left in the work directory once every ended run is cleaned up (after
        its end is reported)."""
        deadline = time.monotonic() + 5
        while self.runner.active_count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.runner.active_count == 0
        return os.listdir(self.data / "work")

    def output(self, execution: Execution) -> str:
        page = LogFileReader(self.data / "logs").read(execution, None, 1 << 20)
        return b"".join(chunk.data for chunk in page.chunks).decode()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Runner]:
    listener = Listener()
    runner = LocalProcessRunner(
        tmp_path / "data" / "work",
        tmp_path / "data" / "logs",
        SystemClock(),
        kill_grace_seconds=0.5,
    )
    runner.subscribe(listener)
    yield Runner(runner, listener, tmp_path / "data")
    runner.stop_all()


def test_the_default_branch_is_checked_out_over_http_and_its_commit_reported(
    local: Runner, repos: Repos
) -> None:
    execution = local.launch("e1", "cat VERSION; git rev-parse HEAD", GitSource(repos.http))

    assert local.listener.wait("e1") == ("exit", (0, False))
    assert local.listener.commits["e1"] == repos.public.main
    assert local.output(execution) == f"3\n{repos.public.main}\n"


def test_a_tag_runs_in_its_subdirectory_from_a_file_url(local: Runner, repos: Repos) -> None:
    execution = local.launch("e1", "./run.sh", GitSource(repos.file, "v1", "app"))

    assert local.listener.wait("e1") == ("exit", (0, False))
    assert local.output(execution) == "version 1 in app\n"
    assert local.listener.commits["e1"] == repos.public.first


def test_a_branch_is_checked_out(local: Runner, repos: Repos) -> None:
    execution = local.launch("e1", "cat VERSION", GitSource(repos.http, "feature"))

    assert local.listener.wait("e1") == ("exit", (0, False))
    assert local.output(execution) == "feature\n"
    assert local.listener.commits["e1"] == repos.public.feature


@pytest.mark.parametrize("protocol", ["", "/v0"])
def test_a_commit_no_ref_points_at_is_checked_out_even_from_an_old_server(
    local: Runner, repos: Repos, protocol: str
) -> None:
    # Given a server that speaks protocol v2 (fetches any commit), or only v0 (refuses a
    # commit it did not advertise, so the whole history is fetched instead)
    url = f"{repos.server.url}{protocol}/public.git"

    # When a run names the middle commit
    execution = local.launch("e1", "cat VERSION", GitSource(url, repos.public.middle))

    # Then that commit is what runs
    assert local.listener.wait("e1") == ("exit", (0, False))
    assert local.output(execution) == "2\n"
    assert local.listener.commits["e1"] == repos.public.middle


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (GitSource("{http}", "nope"), "git ref 'nope' not found in {http}"),
        (GitSource("{http}", "f" * 40), f"commit {'f' * 40} not found in {{http}}"),
        (
            GitSource("{http}", None, "missing"),
            "git_subdir 'missing' is not a directory in commit {main}",
        ),
        (GitSource("http://127.0.0.1:1/x.git"), "cannot fetch from http://127.0.0.1:1/x.git"),
        (
            GitSource("{private}"),
            "{private} needs credentials: name a stored secret with --git-secret",
        ),
        (
            GitSource("{private}", credential=f"{PRIVATE_USER}:wrong"),
            "{private} refused the credentials of the git secret",
        ),
    ],
)
def test_a_failed_checkout_ends_the_run_with_a_reason_and_the_command_never_runs(
    local: Runner, repos: Repos, source: GitSource, reason: str
) -> None:
    names = {"http": repos.http, "private": repos.private_http, "main": repos.public.main}
    source = GitSource(
        source.url.format(**names), source.ref, source.subdir, credential=source.credential
    )

    execution = local.launch("e1", "echo ran", source)

    how, why = local.listener.wait("e1")
    assert how == "setup_failed"
    assert isinstance(why, str) and why.startswith("git checkout failed: ")
    assert reason.format(**names) in why
    assert "wrong" not in why
    assert local.output(execution) == ""
    assert local.work_left() == []


def test_a_private_repository_is_reached_with_the_credential_and_it_is_kept_nowhere(
    local: Runner, repos: Repos
) -> None:
    # Given a run of a private repository, its credential carried in the launch spec
    source = GitSource(repos.private_http, "v1", credential=CREDENTIAL)

    # When it runs a command that looks for the credential in its environment
    execution = local.launch("e1", "cat VERSION; env", source)

    # Then the checkout authenticated, and the credential is in no file of the data
    # directory, not in the command's environment nor in what is reported
    assert local.listener.wait("e1") == ("exit", (0, False))
    output = local.output(execution)
    assert output.startswith("1\n")
    assert local.listener.commits["e1"] == repos.private.first
    assert PRIVATE_PASSWORD not in output
    assert "MYCLI_GIT" not in output and "GIT_CONFIG" not in output
    local.work_left()  # the run's directory is removed after its end is reported
    for path, content in stored_files(local.data):
        assert PRIVATE_PASSWORD.encode() not in content, path
    assert PRIVATE_PASSWORD not in repr(source)


def test_a_checkout_that_outlasts_the_timeout_times_the_run_out(
    local: Runner, silent_server: str
) -> None:
    started = time.monotonic()

    local.launch("e1", "echo ran", GitSource(silent_server), timeout=1)

    how, (_, timed_out) = local.listener.wait("e1")  # type: ignore[misc]
    assert (how, timed_out) == ("exit", True)
    assert time.monotonic() - started < 5
    assert local.work_left() == []


def test_a_run_stopped_during_its_checkout_ends_without_running_the_command(
    local: Runner, silent_server: str
) -> None:
    execution = local.launch("e1", "echo ran", GitSource(silent_server))
    time.sleep(0.3)

    local.runner.stop(execution, "cancelled by a@x.io")

    how, (exit_code, timed_out) = local.listener.wait("e1")  # type: ignore[misc]
    assert (how, timed_out) == ("exit", False)
    assert exit_code == 143
    assert local.output(execution) == ""
    assert local.work_left() == []


FAKE_SSH = """#!/bin/sh
# Records how git called ssh and the key file it was given, then refuses like a server.
echo "$*" > "{log}"
while [ $# -gt 0 ]; do
  if [ "$1" = "-i" ]; then stat -c %a "$2" > "{log}.mode"; cp "$2" "{log}.key"; fi
  shift
done
echo "git@example.com: Permission denied (publickey)." >&2
exit 255
"""


def test_a_deploy_key_reaches_ssh_as_a_private_file_that_is_gone_afterwards(
    tmp_path: Path,
) -> None:
    # Given an ssh on PATH that records its arguments and the key file, then refuses
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "ssh.log"
    (bin_dir / "ssh").write_text(FAKE_SSH.format(log=log))
    (bin_dir / "ssh").chmod(0o755)
    listener = Listener()
    runner = LocalProcessRunner(
        tmp_path / "work",
        tmp_path / "logs",
        SystemClock(),
        path_variable=f"{bin_dir}:{os.environ['PATH']}",
    )
    runner.subscribe(listener)
    key = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        "b3BlbnNzaC1rZXktdjEAAAAA\n"
        "-----END OPENSSH PRIVATE KEY-----"
    )

    # When a run fetches over ssh with a deploy key
    source = GitSource("git@example.com:acme/app.git", "main", credential=key)
    runner.launch(LaunchSpec("e1", "echo ran", {}, 30, git=source))

    # Then ssh got the key as a 0600 file (never as an argument), in batch mode, and the
    # refusal is the run's reason; the key file is gone
    how, why = listener.wait("e1")
    runner.stop_all()
    assert how == "setup_failed"
    assert why == (
        "git checkout failed: git@example.com:acme/app.git refused the credentials of the "
        "git secret"
    )
    arguments = log.read_text()
    assert "BatchMode=yes" in arguments and "IdentitiesOnly=yes" in arguments
    assert "b3BlbnNzaC1r" not in arguments
    assert (tmp_path / "ssh.log.mode").read_text().strip() == "600"
    assert (tmp_path / "ssh.log.key").read_text().strip() == key
    assert list((tmp_path / "work").iterdir()) == []
