"""`mycli exec --git` options the CLI refuses (exit 2) before anything is sent: unsafe or
unsupported URLs, refs and subdirectories, and options that do not go together."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli_harness import CliHarness


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--git", "https://bob:hunter2@example.com/app.git"], "--git-secret"),
        (["--git", "ext::sh%20-c%20id"], "transport::address"),
        (["--git", "--upload-pack=id"], "must not start with '-'"),
        (["--git", "https://example.com/app.git#-x"], "is not a branch, tag or commit"),
        (["--git", "https://example.com/app.git", "--git-subdir", "../up"], "'..'"),
        (["--git-subdir", "app"], "go with --git"),
        (["--git-secret", "deploy"], "go with --git"),
        (["--git", "https://example.com/app.git", "--upload", "."], "cannot be used together"),
        # The server's rule, said by the CLI for the option that breaks it
        (
            ["--git", "http://example.com/app.git", "--git-secret", "deploy"],
            "Invalid value for --git-secret: git_secret goes only over https://",
        ),
        (["--git", "HTTP://example.com/app.git", "--git-secret", "deploy"], "in the clear"),
    ],
)
def test_bad_git_options_are_refused_before_anything_is_sent(
    harness: CliHarness, args: list[str], words: str
) -> None:
    result = harness.run("exec", *args, "--", "true")

    assert result.exit_code == 2
    assert words in result.output
    assert "hunter2" not in result.output
    assert harness.platform.executions_store.list_active() == []
    assert (
        harness.platform.services.executions.list_page(
            harness.platform.services.users.authenticate(harness.admin_key), limit=5
        ).items
        == []
    )


def test_an_upper_case_scheme_is_fetched_as_git_takes_it(
    harness: CliHarness, tmp_path: Path
) -> None:
    # Given a repository on disk, named with its scheme in capitals (git refuses `FILE://`)
    origin = tmp_path / "origin"
    git = ["git", "-C", str(origin), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(origin)], check=True)
    (origin / "hello.txt").write_text("hello from git\n")
    subprocess.run([*git, "add", "hello.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)

    # When a run names it
    result = harness.run("exec", "--git", f"FiLe://{origin}#main", "--", "cat hello.txt")

    # Then the checkout ran, and the URL was recorded as it was fetched
    assert (result.exit_code, result.stdout) == (0, "hello from git\n"), result.stderr
    caller = harness.platform.services.users.authenticate(harness.admin_key)
    [execution] = harness.platform.services.executions.list_page(caller, limit=5).items
    assert execution.git_url == f"file://{origin}"
