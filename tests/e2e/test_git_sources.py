"""`mycli exec --git URL[#REF]` against a real `mycli local up`, with real git: one bare
repository served over HTTP on 127.0.0.1 (`git http-backend`) and reached as file://, one
private one behind basic auth. Branch, tag and commit refs; the recorded commit; the
subdirectory; checkout failures (FAILED with the reason, the lock free); bad input refused
by the API (400; the CLI's own refusals are in tests/cli). One server and one repository
fixture for the module."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from data_files import wait_for_cleanup
from deployment import MYCLI, LocalDeployment, running_deployment
from git_repos import PRIVATE_PASSWORD, PRIVATE_USER, GitHttpServer, Repository, make_repository

pytestmark = [pytest.mark.e2e, pytest.mark.both_backends]
# A checkout can fail before the create's answer: then exec says "failed" instead.
STARTED = re.compile(r"mycli: execution ([0-9a-f]{32}) (?:started|failed)")


@dataclass
class World:
    local: LocalDeployment
    repo: Repository
    server: GitHttpServer
    private: Repository

    @property
    def http(self) -> str:
        return f"{self.server.url}/public.git"

    @property
    def file(self) -> str:
        return f"file://{self.repo.path}"

    def run(self, *args: str) -> tuple[int, str, str, dict[str, Any] | None]:
        """`mycli exec ARGS`: its exit code, stdout, stderr, and the execution's record."""
        result = self.local.mycli("exec", *args)
        started = STARTED.search(result.stderr)
        record = self.get(f"/executions/{started.group(1)}") if started else None
        return result.returncode, result.stdout, result.stderr, record

    def get(self, path: str) -> Any:
        status, body = self.local.api("GET", path, self.local.admin_key)
        assert status == 200, body
        return body


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("git")
    repo = make_repository(root, "public.git")
    private = make_repository(root / "private", "secret.git")
    server = GitHttpServer(root).start()
    with running_deployment(tmp_path_factory.mktemp("home")) as local:
        yield World(local, repo, server, private)
    server.stop()


def test_a_tag_runs_in_its_subdirectory_and_the_commit_is_recorded(world: World) -> None:
    code, out, err, record = world.run(
        "--git", f"{world.http}#v1", "--git-subdir", "app", "--", "./run.sh"
    )

    assert code == 0, err
    assert out == "version 1 in app\n"
    assert record is not None
    assert record["git_commit"] == world.repo.rev_parse("v1") == world.repo.first
    assert (record["git_url"], record["git_ref"], record["git_subdir"]) == (
        world.http,
        "v1",
        "app",
    )


def test_the_default_branch_and_a_branch_run_and_list_shows_their_commits(world: World) -> None:
    # Given a run of the default branch and one of branch `feature`
    default = world.run("--git", world.http, "--", "cat VERSION")
    feature = world.run("--git", f"{world.http}#feature", "--", "cat VERSION")

    # Then each ran its own commit, and the listing's JSON names them
    assert (default[0], default[1]) == (0, "3\n")
    assert (feature[0], feature[1]) == (0, "feature\n")
    listed = json.loads(world.local.mycli("list", "-o", "json", "--limit", "2", check=True).stdout)
    commits = [(item["git_ref"], item["git_commit"]) for item in listed["items"]]
    assert commits == [("feature", world.repo.feature), (None, world.repo.main)]


def test_a_commit_id_runs_from_a_file_url_and_status_shows_it(world: World) -> None:
    code, out, err, record = world.run(
        "--git", f"{world.file}#{world.repo.middle}", "--", "cat VERSION"
    )

    assert (code, out) == (0, "2\n"), err
    assert record is not None and record["git_commit"] == world.repo.middle
    status = world.local.mycli("status", record["execution_id"], check=True).stdout
    assert re.search(rf"^git_commit +{world.repo.middle}$", status, re.M)


def test_an_upper_case_scheme_is_fetched_as_checked_by_the_cli_and_the_api(world: World) -> None:
    # Given the loopback git server named with its scheme in mixed case (git alone refuses
    # `transport 'HtTp' not allowed`)
    url = "HtTp" + world.http.removeprefix("http")

    # When mycli exec names it, and a client posts it to the API as it is
    code, out, err, record = world.run("--git", url, "--lock", "git-case", "--", "cat VERSION")
    status, created = world.local.api(
        "POST", "/executions", world.local.admin_key, {"command": "cat VERSION", "git_url": url}
    )

    # Then both ran the checkout, recorded with the scheme git was given
    assert (code, out) == (0, "3\n"), err
    assert record is not None and record["git_url"] == world.http
    assert status == 202, created
    assert created["git_url"] == world.http
    deadline = time.monotonic() + 30
    while (api_run := world.get(f"/executions/{created['execution_id']}"))["status"] not in (
        "SUCCEEDED",
        "FAILED",
    ):
        assert time.monotonic() < deadline, api_run
        time.sleep(0.2)
    assert (api_run["status"], api_run["git_commit"]) == ("SUCCEEDED", world.repo.main)
    assert world.get("/locks")["locks"] == []


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{http}#no-such-branch", "git checkout failed: git ref 'no-such-branch' not found in"),
        ("{server}/private/secret.git", "needs credentials: name a stored secret"),
        ("http://127.0.0.1:1/gone.git", "git checkout failed: cannot fetch from"),
    ],
)
def test_a_failed_checkout_fails_the_run_with_its_reason_and_frees_the_lock(
    world: World, source: str, reason: str
) -> None:
    url = source.format(http=world.http, server=world.server.url)

    code, out, err, record = world.run("--git", url, "--lock", "git-e2e", "--", "echo ran")

    assert code == 125
    assert out == ""
    assert reason in err
    assert record is not None and record["status"] == "FAILED"
    assert reason in record["reason"] and record["exit_code"] is None
    assert world.get("/locks")["locks"] == []


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"git_url": "https://bob:hunter2@example.com/app.git"}, "--git-secret"),
        ({"git_url": "ext::sh"}, "transport::address"),
        ({"git_url": "https://example.com/a.git", "upload_id": "u1"}, "not both"),
        ({"git_url": "https://example.com/a.git", "git_ref": "--force"}, "not a branch"),
        ({"git_url": "https://example.com/a.git", "git_subdir": "a/../.."}, "'..'"),
        ({"git_url": "https://example.com/a.git", "git_secret": "nope"}, "no such secret: nope"),
        ({"git_ref": "main"}, "need git_url"),
        pytest.param(
            {"git_url": 7},
            "string",
            marks=pytest.mark.embedded_only(
                "API Gateway's request validator refuses a body off the model"
                " before any function runs, with its own words ('Invalid request body')"
            ),
        ),
    ],
)
def test_the_api_refuses_bad_git_fields_with_400(
    world: World, fields: dict[str, Any], words: str
) -> None:
    status, body = world.local.api(
        "POST", "/executions", world.local.admin_key, {"command": "true", **fields}
    )

    assert status == 400
    assert words in json.dumps(body)
    assert "hunter2" not in json.dumps(body)


def set_secret(world: World, name: str, value: str) -> None:
    result = subprocess.run(
        [MYCLI, "admin", "secrets", "set", name],
        env=world.local.env,
        input=value,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_a_private_repository_is_reached_only_with_its_git_secret_kept_out_of_everything(
    world: World,
) -> None:
    # Given the repository's credential as a stored secret, and a wrong one
    url = f"{world.server.url}/private/secret.git"
    set_secret(world, "git-deploy", f"{PRIVATE_USER}:{PRIVATE_PASSWORD}")
    set_secret(world, "git-wrong", f"{PRIVATE_USER}:not-the-password")

    # When a run fetches with each, and one with none
    good = world.run("--git", f"{url}#v1", "--git-secret", "git-deploy", "--", "cat VERSION")
    wrong = world.run("--git", url, "--git-secret", "git-wrong", "--", "echo ran")
    without = world.run("--git", url, "--", "echo ran")

    # Then only the right credential checks the commit out; the others fail with the reason
    assert (good[0], good[1]) == (0, "1\n"), good[2]
    assert good[3] is not None and good[3]["git_commit"] == world.private.first
    assert wrong[0] == 125 and "refused the credentials of the git secret" in wrong[2]
    assert without[0] == 125 and "needs credentials" in without[2]
    # and the credential is in no record, response, log or file of the data directory
    for _, out, err, record in (good, wrong, without):
        assert PRIVATE_PASSWORD not in out + err + json.dumps(record)
        logs = world.local.mycli("logs", record["execution_id"])  # type: ignore[index]
        assert PRIVATE_PASSWORD not in logs.stdout + logs.stderr
    assert PRIVATE_PASSWORD not in json.dumps(world.get("/executions?limit=100"))
    assert PRIVATE_PASSWORD.encode() not in world.local.stored_data()


def test_a_redirect_fails_a_run_with_a_git_secret_and_the_secret_never_follows_it(
    world: World,
) -> None:
    # Given a git server that redirects every request to another port, where the same
    # repositories are served and every request is recorded
    target = GitHttpServer(world.server.root).start()
    front = GitHttpServer(world.server.root, redirect_to=target.url).start()
    set_secret(world, "git-redirected", f"{PRIVATE_USER}:{PRIVATE_PASSWORD}")
    url = f"{front.url}/public.git"
    try:
        # When a run names it with a git secret (and a lock), and another without
        with_secret = world.run(
            "--git", url, "--git-secret", "git-redirected", "--lock", "git-e2e", "--", "echo ran"
        )
        without = world.run("--git", f"{url}#v1", "--", "cat VERSION")
    finally:
        front.stop()
        target.stop()

    # Then the credential never reached the other server: the run with it failed with the
    # reason and freed its lock; the one without followed the redirect as before
    assert target.authorizations == []
    code, out, err, record = with_secret
    reason = (
        f"{url} redirected to {target.url}/public.git: the git secret goes only to the URL "
        "named, so redirects are not followed; name the final URL"
    )
    assert (code, out) == (125, "")
    assert reason in err
    assert record is not None and record["status"] == "FAILED"
    assert record["reason"] == f"git checkout failed: {reason}"
    assert world.get("/locks")["locks"] == []
    assert PRIVATE_PASSWORD not in err + json.dumps(record)
    assert (without[0], without[1]) == (0, "1\n"), without[2]
    assert without[3] is not None and without[3]["git_commit"] == world.repo.first


@pytest.mark.embedded_only("the embedded runs' work directory (on AWS, the task's own volume)")
def test_a_plain_path_runs_as_its_file_url(world: World) -> None:
    code, out, err, record = world.run("--git", f"{world.repo.path}#feature", "--", "cat VERSION")

    assert (code, out) == (0, "feature\n"), err
    assert record is not None and record["git_url"] == world.file
    assert record["git_commit"] == world.repo.feature


def test_a_relative_path_is_taken_from_where_mycli_runs(world: World) -> None:
    result = subprocess.run(
        [MYCLI, "exec", "--git", f"./{world.repo.path.name}", "--", "cat VERSION"],
        cwd=world.repo.path.parent,
        env=world.local.env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (result.returncode, result.stdout) == (0, "3\n"), result.stderr


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("/nonexistent/repo.git", "'/nonexistent/repo.git': no such directory"),
        ("/etc/hostname", "is not a directory"),
        ("/", "'/' is not a git repository"),
        ("-u", "must not start with '-'"),
    ],
)
def test_a_bad_path_is_refused_before_anything_runs(world: World, source: str, words: str) -> None:
    result = world.local.mycli("exec", f"--git={source}", "--", "true")

    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert "execution" not in result.stderr


def test_a_path_takes_no_git_secret(world: World) -> None:
    result = world.local.mycli(
        "exec", "--git", str(world.repo.path), "--git-secret", "token", "--", "true"
    )

    assert result.returncode == 2
    assert "--git-secret is for a remote repository" in result.stderr


def test_no_git_run_left_anything_in_the_work_directory(world: World) -> None:
    work = world.local.home / "data" / "work"

    wait_for_cleanup(world.local.home / "data")  # an ended run's directory goes right after
    assert not work.exists() or sorted(p.name for p in work.iterdir()) == []


def test_nothing_refused_was_recorded(world: World) -> None:
    listed = world.get("/executions?limit=100")

    assert all("hunter2" not in json.dumps(item) for item in listed["items"])
    assert all(item["git_url"] != "ext::sh" for item in listed["items"])


def test_the_server_saw_a_credential_only_for_the_private_repository(world: World) -> None:
    assert all(path.startswith("/private/") for path, _ in world.server.authorizations)
