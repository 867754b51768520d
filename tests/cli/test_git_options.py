"""`mycli exec --git` options the CLI refuses (exit 2) before anything is sent: unsafe or
unsupported URLs, refs and subdirectories, and options that do not go together."""

from __future__ import annotations

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
