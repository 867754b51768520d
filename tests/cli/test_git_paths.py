"""`--git PATH`: which sources are local paths, and the file:// URL they become."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click
import pytest

from mycli.git_paths import looks_like_path, repository_url


@pytest.mark.parametrize(
    ("source", "is_path"),
    [
        ("/srv/repo.git", True),
        ("./repo", True),
        ("../repo", True),
        ("~/repo", True),
        (".", True),
        ("git@github.com:org/repo.git", False),
        ("host:dir/repo", False),
        ("https://example.com/repo.git", False),
        ("file:///srv/repo.git", False),
        ("no-such-name", False),
    ],
)
def test_what_reads_as_a_path(source: str, is_path: bool) -> None:
    assert looks_like_path(source) is is_path


def test_an_existing_directory_by_its_bare_name_is_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path)

    assert looks_like_path("repo")


def test_a_repository_becomes_the_file_url_of_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "my repo"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    monkeypatch.chdir(tmp_path)

    assert repository_url("./my repo", None) == f"file://{tmp_path}/my%20repo"


def test_urls_and_option_like_text_are_left_to_the_servers_rules() -> None:
    assert repository_url("-uhack", None) == "-uhack"
    assert repository_url("git@host:repo", "key") == "git@host:repo"


def test_a_directory_that_is_no_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(click.BadParameter, match="is not a git repository"):
        repository_url(str(tmp_path), None)
