"""Git sources in the domain: which URLs, refs and subdirectories a run may name, and what
ExecutionService records and hands the runner (in-memory fakes)."""

from __future__ import annotations

import pytest

from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.git_sources import checked_source, is_commit_id
from orchestrator.domain.images import ImageSpec
from orchestrator.domain.models import ExecutionRequest, ExecutionStatus, GitSource
from support import ADMIN, ALICE, FakeWorld

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/app.git",
        "http://127.0.0.1:8080/app.git",
        "ssh://git@github.com/acme/app.git",
        "ssh://git@[::1]:2222/srv/app.git",
        "git@github.com:acme/app.git",
        "github.com:acme/app",
        "file:///srv/git/app.git",
        "file://localhost/srv/git/app.git",
    ],
)
def test_supported_urls_are_accepted(url: str) -> None:
    source = checked_source(url, None, None, None)

    assert source == GitSource(url=url)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://user:ghp_token@github.com/acme/app.git", "--git-secret"),
        ("https://ghp_token@github.com/acme/app.git", "--git-secret"),
        ("ssh://git:password@host/app.git", "--git-secret"),
        ("ext::sh%20-c%20touch%20/tmp/pwned", "transport::address"),
        ("ext::sh", "transport::address"),
        ("fd::3", "transport::address"),
        ("host::path", "transport::address"),
        ("-uhttps://x/y", "must not start with '-'"),
        ("--upload-pack=touch /tmp/x", "must not start with '-'"),
        ("ftp://example.com/app.git", "must use one of"),
        ("git://example.com/app.git", "must use one of"),
        ("/srv/git/app.git", "must use one of"),
        ("./app.git", "must use one of"),
        ("https://github.com/acme/app.git#main", "git_ref"),
        ("https:///app.git", "names no host"),
        ("ssh://-oProxyCommand=x/app", "names no host"),
        ("file://otherhost/srv/app.git", "absolute path on the host"),
        ("https://example.com/a b.git", "blanks"),
        ("https://example.com/\x00.git", "NUL"),
        ("https://example.com/\n.git", "control characters"),
        ("", "1 to"),
        ("http://[::1/x", "not a valid URL"),
        ("https://[zz]/x", "not a valid URL"),
        ("ssh://[-oProxyCommand=x]/y", "not a valid URL"),
        ("https://example.com:99999/x.git", "not a valid URL"),
    ],
)
def test_unsafe_or_unsupported_urls_are_refused(url: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        checked_source(url, None, None, None)

    assert words in refused.value.message
    assert "ghp_token" not in refused.value.message
    assert "password" not in refused.value.message


@pytest.mark.parametrize("ref", ["main", "v1.2.3", "release/2026-11", "feature_x", SHA, "a+b"])
def test_branch_tag_and_commit_refs_are_accepted(ref: str) -> None:
    source = checked_source("https://h/app.git", ref, None, None)

    assert source is not None and source.ref == ref


@pytest.mark.parametrize(
    "ref",
    [
        "-main",
        "--upload-pack=x",
        "../main",
        "a..b",
        "a//b",
        "/main",
        ".hidden",
        "main/",
        "main.",
        "main.lock",
        "a/.b",
        "ma in",
        "main@{1}",
        "ma~1",
        "ma^",
        "a:b",
        "",
        "x" * 256,
    ],
)
def test_refs_that_are_not_plain_names_are_refused(ref: str) -> None:
    with pytest.raises(ValidationFailed, match="is not a branch, tag or commit id"):
        checked_source("https://h/app.git", ref, None, None)


@pytest.mark.parametrize(
    ("subdir", "plain"),
    [("deploy", "deploy"), ("a/b/c", "a/b/c"), ("./a//b/", "a/b"), ("a/./b", "a/b")],
)
def test_subdirectories_are_kept_in_their_plain_form(subdir: str, plain: str) -> None:
    source = checked_source("https://h/app.git", None, subdir, None)

    assert source is not None and source.subdir == plain


@pytest.mark.parametrize(
    ("subdir", "words"),
    [
        ("..", "'..'"),
        ("a/../../etc", "'..'"),
        ("/etc", "relative"),
        (".", "names no directory"),
        ("", "1 to"),
        ("a\x01b", "control characters"),
    ],
)
def test_subdirectories_that_leave_the_checkout_are_refused(subdir: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        checked_source("https://h/app.git", None, subdir, None)

    assert words in refused.value.message


def test_git_options_without_a_url_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="need git_url"):
        checked_source(None, "main", None, None)


def test_only_full_commit_ids_are_fetched_by_id() -> None:
    assert is_commit_id(SHA)
    assert is_commit_id("a" * 64)
    assert not is_commit_id(SHA[:12])
    assert not is_commit_id(SHA.upper())
    assert not is_commit_id(None)


def test_a_git_run_is_recorded_with_its_source_and_handed_to_the_runner(
    world: FakeWorld,
) -> None:
    # Given a request to run in a repository's subdirectory at a tag
    request = ExecutionRequest(
        "./deploy.sh", git_url="https://h/app.git", git_ref="v1", git_subdir="./ops/"
    )

    # When it starts
    execution = world.services.executions.start(ALICE, request)

    # Then the record names the source (the commit comes later), and so does the launch
    assert (execution.git_url, execution.git_ref, execution.git_subdir) == (
        "https://h/app.git",
        "v1",
        "ops",
    )
    assert execution.git_commit is None
    assert world.runner.launched[0].git == GitSource("https://h/app.git", "v1", "ops")


def test_the_resolved_commit_is_recorded_and_a_failed_checkout_ends_the_run(
    world: FakeWorld,
) -> None:
    # Given a git run holding a lock
    service = world.services.executions
    execution = service.start(
        ALICE, ExecutionRequest("true", lock="deploy", git_url="https://h/app.git")
    )

    # When the runner reports the commit, then a set-up failure
    service.on_git_commit(execution.execution_id, SHA)
    service.on_setup_failed(execution.execution_id, "git checkout failed: git ref 'x' not found")

    # Then the commit and the reason are recorded, the run is FAILED and the lock free
    final = service.get(ALICE, execution.execution_id)
    assert final.git_commit == SHA
    assert final.status is ExecutionStatus.FAILED
    assert final.reason == "git checkout failed: git ref 'x' not found"
    assert final.exit_code is None
    assert world.locks.get("deploy") is None


def test_git_and_an_upload_together_are_refused_before_anything_runs(world: FakeWorld) -> None:
    request = ExecutionRequest("true", upload_id="u1", git_url="https://h/app.git")

    with pytest.raises(ValidationFailed, match="not both"):
        world.services.executions.start(ALICE, request)

    assert world.runner.launched == []


def test_a_credential_in_the_url_is_refused_and_not_recorded(world: FakeWorld) -> None:
    request = ExecutionRequest("true", git_url="https://bob:hunter2@h/app.git")

    with pytest.raises(ValidationFailed, match="--git-secret"):
        world.services.executions.start(ALICE, request)

    assert world.runner.launched == []
    assert world.executions.list_active() == []


def test_an_unknown_git_secret_is_refused_before_anything_runs(world: FakeWorld) -> None:
    request = ExecutionRequest("true", git_url="https://h/app.git", git_secret="deploy-token")

    with pytest.raises(ValidationFailed, match="no such secret: deploy-token"):
        world.services.executions.start(ALICE, request)

    assert world.runner.launched == []


def test_a_git_secrets_value_reaches_only_the_runner(world: FakeWorld) -> None:
    # Given a stored secret holding a token
    assert world.services.secrets is not None
    world.services.secrets.set(ADMIN, "deploy-token", "user:hunter2")

    # When a run names it as its git secret
    execution = world.services.executions.start(
        ALICE,
        ExecutionRequest("true", git_url="https://h/app.git", git_secret="deploy-token"),
    )

    # Then the runner gets the value with the source; the record and the command's env
    # and secrets do not, and the store saw one use for this run
    [spec] = world.runner.launched
    assert spec.git is not None and spec.git.credential == "user:hunter2"
    assert spec.git.secret == "deploy-token"
    assert spec.env == {} and dict(spec.secrets) == {}
    assert "hunter2" not in repr(world.executions.get(execution.execution_id))
    assert "hunter2" not in repr(spec)
    assert world.secrets.reveals == [(("deploy-token",), execution.execution_id)]
    # and the record names the secret it used (the use log), never its value
    assert world.executions.get(execution.execution_id).git_secret == "deploy-token"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://git.example.com/app.git", True),
        ("http://10.0.0.8/app.git", True),
        ("http://127.0.0.1:8080/app.git", False),
        ("http://[::1]:8080/app.git", False),
        ("http://localhost/app.git", False),
        ("https://git.example.com/app.git", False),
        ("git@git.example.com:app.git", False),
    ],
)
def test_a_git_secret_never_travels_in_the_clear(url: str, refused: bool) -> None:
    if refused:
        with pytest.raises(ValidationFailed, match="in the clear"):
            checked_source(url, None, None, "deploy-token")
    else:
        assert checked_source(url, None, None, "deploy-token") is not None


def test_a_git_secret_restricted_to_the_default_image_serves_runs_naming_no_image(
    world: FakeWorld,
) -> None:
    # Given a git secret restricted to the image that is the default
    assert world.services.secrets is not None and world.services.images is not None
    world.services.images.register(ADMIN, ImageSpec(name="tf", uri="tf:1", is_default=True))
    world.services.secrets.set(ADMIN, "tf-git", "tok", images=["tf"])

    # When a run names no image
    world.services.executions.start(
        ALICE, ExecutionRequest("true", git_url="https://h/app.git", git_secret="tf-git")
    )

    # Then it runs on the default image, which the secret allows
    [spec] = world.runner.launched
    assert spec.git is not None and spec.git.credential == "tok"


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("HTTP://127.0.0.1/x", "http://127.0.0.1/x"),
        ("HtTpS://github.com/Acme/App.git", "https://github.com/Acme/App.git"),
        ("SSH://git@host/srv/App.git", "ssh://git@host/srv/App.git"),
        ("FILE:///srv/App.git", "file:///srv/App.git"),
        ("git@Host:Acme/App.git", "git@Host:Acme/App.git"),
    ],
)
def test_the_scheme_is_stored_in_lower_case_as_the_rules_read_it(url: str, stored: str) -> None:
    # Git refuses `HTTP://` (transport 'HTTP' not allowed): the runner gets what was checked
    source = checked_source(url, None, None, None)

    assert source == GitSource(url=stored)


def test_an_upper_case_http_scheme_still_keeps_the_secret_off_cleartext() -> None:
    with pytest.raises(ValidationFailed, match="git_secret goes only over https://"):
        checked_source("HTTP://example.com/x.git", None, None, "tok")
