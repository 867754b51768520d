"""A git credential goes only to the scheme, host and port the run named: the embedded
runner's checkout against real git servers on 127.0.0.1, where the named one redirects (on
the first request or a later one, to another port, to itself, or from https to plain http)
to a second one that records every request. With a credential the run fails with the
reason and the second server hears nothing; without one, a redirect is followed as before.
A hostile git configuration in the environment or in HOME changes none of it."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from git_repos import (
    PRIVATE_PASSWORD,
    PRIVATE_USER,
    GitHttpServer,
    Repository,
    make_repository,
    self_signed,
)
from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.runner import LocalProcessRunner
from orchestrator.agent.scripts import CHECKOUT_SCRIPT_PATH
from orchestrator.domain.models import GitSource, LaunchSpec

CHECKOUT_SCRIPT = CHECKOUT_SCRIPT_PATH.read_text()  # the program the checkout runs

CREDENTIAL = f"{PRIVATE_USER}:{PRIVATE_PASSWORD}"
NOT_FOLLOWED = (
    "the git secret goes only to the URL named, so redirects are not followed; name the final URL"
)


@dataclass
class Ends:
    """What the runner reported for each run: ("exit", code) or ("setup_failed", reason)."""

    seen: dict[str, tuple[str, object]] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def on_running(self, execution_id: str) -> None:
        return None

    def on_log_truncated(self, execution_id: str, offset: int) -> None:
        return None

    def on_git_commit(self, execution_id: str, commit: str) -> None:
        return None

    def on_exit(self, execution_id: str, exit_code: int, *, timed_out: bool) -> None:
        self._end(execution_id, ("exit", exit_code))

    def on_setup_failed(self, execution_id: str, reason: str) -> None:
        self._end(execution_id, ("setup_failed", reason))

    def _end(self, execution_id: str, how: tuple[str, object]) -> None:
        with self.changed:
            self.seen[execution_id] = how
            self.changed.notify_all()

    def wait(self, execution_id: str) -> tuple[str, object]:
        with self.changed:
            assert self.changed.wait_for(lambda: execution_id in self.seen, 20), "no end"
        return self.seen[execution_id]


@dataclass
class World:
    root: Path
    public: Repository
    target: GitHttpServer  # where the redirects lead: records every request
    fronts: list[GitHttpServer] = field(default_factory=list)

    def front(self, **redirect: object) -> GitHttpServer:
        """A server for the same repositories whose answers redirect to the target."""
        server = GitHttpServer(self.root, **redirect)  # type: ignore[arg-type]
        if "redirect_to" not in redirect:
            server.redirect_to = self.target.url
        self.fronts.append(server.start())
        return server


@pytest.fixture(scope="module")
def repositories(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Repository]:
    root = tmp_path_factory.mktemp("git")
    make_repository(root / "private", "secret.git")
    return root, make_repository(root, "public.git")


@pytest.fixture
def world(repositories: tuple[Path, Repository]) -> Iterator[World]:
    root, public = repositories
    world = World(root, public, GitHttpServer(root).start())
    yield world
    for server in (world.target, *world.fronts):
        server.stop()


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[tuple[LocalProcessRunner, Ends]]:
    ends = Ends()
    local = LocalProcessRunner(tmp_path / "work", tmp_path / "logs", SystemClock())
    local.subscribe(ends)
    yield local, ends
    local.stop_all()


def check_out(
    runner: tuple[LocalProcessRunner, Ends], url: str, credential: str | None = None
) -> tuple[str, object]:
    local, ends = runner
    source = GitSource(url, credential=credential)
    local.launch(LaunchSpec("e1", "cat VERSION", {}, 30, git=source))
    ended = ends.wait("e1")
    deadline = time.monotonic() + 5  # the run's directories go once its end is reported
    while local.active_count and time.monotonic() < deadline:
        time.sleep(0.02)
    return ended


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_port_fails_the_run_and_the_credential_never_gets_there(
    world: World, runner: tuple[LocalProcessRunner, Ends], tmp_path: Path, status: int
) -> None:
    # Given a git server that redirects every request to another port, where the same
    # repository is public
    front = world.front(redirect_status=status)
    url = f"{front.url}/public.git"

    # When a run checks it out with a credential
    how, why = check_out(runner, url, CREDENTIAL)

    # Then the other server heard nothing at all, the run failed with where it was sent,
    # and the command never ran
    assert world.target.authorizations == [] and world.target.requests == []
    assert [path for path, _ in front.authorizations] == ["/public.git/info/refs"]
    assert (how, why) == (
        "setup_failed",
        f"git checkout failed: {url} redirected to {world.target.url}/public.git: {NOT_FOLLOWED}",
    )
    assert list((tmp_path / "work").iterdir()) == []


def test_a_redirect_of_a_later_request_fails_the_run_too(
    world: World, runner: tuple[LocalProcessRunner, Ends]
) -> None:
    # Given a server that authenticates the ref listing, then redirects the fetch itself
    front = world.front(redirect_methods=("POST",), redirect_status=307)
    url = f"{front.url}/private/secret.git"

    how, why = check_out(runner, url, CREDENTIAL)

    assert how == "setup_failed"
    assert isinstance(why, str) and f"{url} redirected to {world.target.url}/" in why
    assert NOT_FOLLOWED in why
    assert world.target.requests == []


def test_a_redirect_to_the_same_host_and_port_fails_too_and_names_the_final_url(
    world: World, runner: tuple[LocalProcessRunner, Ends]
) -> None:
    # Given a server that moved its repositories under /moved on the same origin
    front = world.front(redirect_to="")
    front.redirect_to = f"{front.url}/moved"
    url = f"{front.url}/private/secret.git"

    how, why = check_out(runner, url, CREDENTIAL)

    assert (how, why) == (
        "setup_failed",
        f"git checkout failed: {url} redirected to {front.url}/moved/private/secret.git: "
        f"{NOT_FOLLOWED}",
    )


@pytest.mark.parametrize(
    "echoed", [PRIVATE_PASSWORD, base64.b64encode(CREDENTIAL.encode()).decode()]
)
def test_a_location_that_holds_the_credential_is_not_shown(
    world: World, runner: tuple[LocalProcessRunner, Ends], echoed: str
) -> None:
    # Given a server that echoes the credential (or its header's form) into its redirect
    front = world.front(redirect_to=f"{world.target.url}/{echoed}")
    url = f"{front.url}/private/secret.git"

    how, why = check_out(runner, url, CREDENTIAL)

    assert (how, why) == (
        "setup_failed",
        f"git checkout failed: {url} redirected to another URL: {NOT_FOLLOWED}",
    )
    assert world.target.requests == []


def test_without_a_credential_a_redirect_is_followed_as_before(
    world: World, runner: tuple[LocalProcessRunner, Ends], tmp_path: Path
) -> None:
    front = world.front()

    how = check_out(runner, f"{front.url}/public.git")

    assert how == ("exit", 0)
    assert world.target.requests != [] and world.target.authorizations == []


HOSTILE_CONFIG = """[url "{target}/"]
\tinsteadOf = {front}/
[http]
\tfollowRedirects = true
"""


def test_a_hostile_git_configuration_around_the_script_changes_nothing(
    world: World, tmp_path: Path
) -> None:
    # Given git configuration in HOME, XDG_CONFIG_HOME, a system file and the environment
    # that would rewrite the URL to the other server, or follow redirects
    front = world.front()
    config = HOSTILE_CONFIG.format(target=world.target.url, front=front.url)
    home = tmp_path / "home"
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".gitconfig").write_text(config)
    (home / ".config" / "git" / "config").write_text(config)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_SYSTEM": str(home / ".gitconfig"),
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{world.target.url}/.insteadOf",
        "GIT_CONFIG_VALUE_0": f"{front.url}/",
        "GIT_CONFIG_PARAMETERS": "'http.followredirects'='true'",
        "MYCLI_GIT_URL": f"{front.url}/private/secret.git",
        "MYCLI_GIT_TARGET": str(tmp_path / "checkout"),
        "MYCLI_GIT_SCRATCH": str(tmp_path / "scratch"),
        "MYCLI_GIT_CREDENTIAL": CREDENTIAL,
    }

    # When the checkout script runs in that environment
    done = subprocess.run(
        ["sh", "-c", CHECKOUT_SCRIPT], env=env, capture_output=True, text=True, check=False
    )

    # Then it still went to the named server only, and stopped at its redirect
    assert done.returncode == 1
    assert done.stderr.endswith(f"{NOT_FOLLOWED}\n")
    assert world.target.requests == []
    assert sorted(os.listdir(tmp_path / "scratch")) == ["home"]
    assert PRIVATE_PASSWORD not in done.stdout + done.stderr


def script_environment(tmp_path: Path, url: str, **more: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "MYCLI_GIT_URL": url,
        "MYCLI_GIT_TARGET": str(tmp_path / "checkout"),
        "MYCLI_GIT_SCRATCH": str(tmp_path / "scratch"),
        **more,
    }


def test_an_https_server_redirecting_to_http_on_the_same_host_never_gets_the_credential_sent(
    world: World, tmp_path: Path
) -> None:
    # Given an https git server (trusted through GIT_SSL_CAINFO) whose answers redirect to
    # plain http on the same host
    context, certificate = self_signed(tmp_path)
    front = world.front(tls=context)
    url = f"{front.url}/public.git"
    assert url.startswith("https://127.0.0.1:")

    # When the checkout runs with a credential, and without one
    env = script_environment(tmp_path, url, GIT_SSL_CAINFO=str(certificate))
    refused = subprocess.run(
        ["sh", "-c", CHECKOUT_SCRIPT],
        env={**env, "MYCLI_GIT_CREDENTIAL": CREDENTIAL},
        capture_output=True,
        text=True,
        check=False,
    )
    with_credential = list(world.target.requests)
    followed = subprocess.run(
        ["sh", "-c", CHECKOUT_SCRIPT],
        env={**env, "MYCLI_GIT_TARGET": str(tmp_path / "second")},
        capture_output=True,
        text=True,
        check=False,
    )

    # Then over https the credential reached only the https server, and the redirect to
    # http failed the checkout; without a credential git follows it as it always did
    assert [path for path, _ in front.authorizations] == ["/public.git/info/refs"]
    assert with_credential == [] and world.target.authorizations == []
    assert refused.returncode == 1
    assert (
        refused.stderr
        == f"mycli: {url} redirected to {world.target.url}/public.git: {NOT_FOLLOWED}\n"
    )
    assert followed.returncode == 0, followed.stderr
    assert world.target.requests != []
