"""Playbook files: finding them, reading them with line numbers (strictly: core YAML only,
bounded in size), and every kind of mistake refused with its file and line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from mycli.playbooks.loader import (
    MAX_FILE_BYTES,
    PlaybookError,
    PlaybookNotFound,
    find_playbook,
    find_root,
    iter_loaded,
    load,
)
from mycli.playbooks.schema import playbook_schema, schema_json
from playbook_files import load_text, refusal, write

ROOT = Path(__file__).parents[2]


# -- finding ---------------------------------------------------------------------------------


def test_playbooks_are_found_in_the_nearest_parent_that_has_them(tmp_path: Path) -> None:
    # Given playbooks at the top of a repository and in a nested project
    outer, inner = tmp_path / "repo", tmp_path / "repo" / "services" / "api"
    write(outer, "deploy.yml", "description: outer\ncommand: 'true'\n")
    write(inner, "deploy.yml", "description: inner\ncommand: 'true'\n")
    (inner / "src" / "deep").mkdir(parents=True)

    # Then from deep inside the nested project the nearest one wins, like .git
    assert find_root(inner / "src" / "deep") == inner
    assert load(find_playbook("deploy", inner / "src")).playbook.description == "inner"
    assert load(find_playbook("deploy", outer / "services")).playbook.description == "outer"


def test_no_playbooks_up_to_the_filesystem_root_is_not_found(tmp_path: Path) -> None:
    assert find_root(tmp_path) is None
    with pytest.raises(PlaybookNotFound) as missing:
        find_playbook("deploy", tmp_path)
    assert missing.value.exit_code == 4


def test_an_unknown_name_lists_the_playbooks_there(tmp_path: Path) -> None:
    write(tmp_path, "build.yaml", "description: b\ncommand: make\n")

    with pytest.raises(PlaybookNotFound) as missing:
        find_playbook("deploy", tmp_path)

    assert "no playbook 'deploy'" in missing.value.message
    assert "there: build" in missing.value.message


def test_two_files_for_one_name_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yml", "description: a\ncommand: a\n")
    write(tmp_path, "deploy.yaml", "description: b\ncommand: b\n")

    with pytest.raises(PlaybookError, match="two files for the playbook 'deploy'"):
        find_playbook("deploy", tmp_path)


def test_listing_loads_each_file_and_keeps_the_bad_ones_apart(tmp_path: Path) -> None:
    write(tmp_path, "good.yml", "description: fine\ncommand: 'true'\n")
    write(tmp_path, "bad.yml", "description: broken\ncommnd: 'true'\n")
    write(tmp_path, "notes.txt", "not a playbook")

    loaded = list(iter_loaded(tmp_path))

    assert [type(item).__name__ for item in loaded] == ["PlaybookError", "LoadedPlaybook"]


# -- every kind of error, with its file and line -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("description: x\ncommand: [echo, 'unclosed\n", 2, "bad YAML"),
        ("description: x\ncommand: a\ncommand: b\n", 3, "the key 'command' appears twice"),
        ("description: &d x\ncommand: *d\n", 2, "aliases"),
        ("description: x\ncommand: !!python/object:os.system a\n", 2, "bad YAML"),
        ("description: x\ncommand: a\n---\ndescription: y\n", 3, "bad YAML"),
        ("- description: x\n", 1, "a playbook is a mapping"),
        ("description: x\ncommand: " + "[" * 20000 + "]" * 20000 + "\n", 1, "nested too deeply"),
        ("description: x\ncommand: a\nenv:" + " {a:" * 20 + " b" + "}" * 20, 3, "too deeply"),
        ("", 1, "the file is empty"),
        ("description: x\ncommand: a\ncolour: red\n", 3, "unknown key 'colour'"),
        (
            "description: x\ncommand: a\nparams:\n  p:\n    description: d\n    dflt: 1\n",
            6,
            "unknown key 'dflt' in params.p",
        ),
        ("description: x\ncommand: a\ntimeout: '30'\n", 3, "timeout: Input should be a valid int"),
        ("description: x\ncommand: a\ntimeout: 0\n", 3, "timeout: Input should be greater"),
        ("description: x\ncommand: a\nenv:\n  PORT: 8080\n", 4, "put it in quotes"),
        ("description: x\ncommand: true\n", 2, "must be a string (run by the shell) or a list"),
        ("description: x\ncommand:\n  - echo\n  - 3\n", 4, "command.1: Input should be a valid"),
        ("description: x\ncommand: a\nenv:\n  1BAD: x\n", 4, "env.1BAD"),
        ("command: a\n", 1, "missing the required key 'description'"),
        (
            "description: x\ncommand: a\nparams:\n  p:\n    default: d\n",
            4,
            "params.p: missing the required key 'description'",
        ),
        ("description: x\ncommand: a\nlock: 'a\tb'\n", 3, "must not contain control characters"),
        (
            "description: x\ncommand: a\ngit: https://h/r.git\nupload: .\n",
            4,
            "`git` and `upload` are two sources of code",
        ),
        ("description: x\ncommand: a\ngit_subdir: d\n", 3, "`git_subdir` goes with `git`"),
        # What no param value can mend in a lock: its own characters and length
        (
            "description: x\ncommand: a\nlock: 'a $b/{{ params.p }}'\nparams:\n"
            "  p: {description: d}\n",
            3,
            "lock: ' $' in a lock name: lock names are 1-128 characters",
        ),
        (
            f"description: x\ncommand: a\nlock: '{'x' * 129}{{{{ params.p }}}}'\nparams:\n"
            "  p: {description: d}\n",
            3,
            "lock: 129 characters: lock names are",
        ),
        ("description: x\ncommand: '" + "x" * 16385 + "'\n", 2, "command: 16385 characters, over"),
        ("description: x\ncommand: echo {{ params.who }}\n", 2, "no param 'who'"),
        ("description: x\ncommand: echo {{ who }}\n", 2, "is not a param"),
        ("description: x\ncommand: echo {{ params.a\n", 2, "a {{ without its }}"),
        (
            "description: x\ncommand: a\nparams:\n  p:\n    description: d\n    pattern: '('\n",
            6,
            "not a valid regular expression",
        ),
        (
            "description: x\ncommand: a\nparams:\n  p:\n    description: d\n    default: x\n"
            "    choices: [a, b]\n",
            6,
            "the default 'x' is not one of: a, b",
        ),
        (
            "description: x\ncommand: a {{ params.p }}\nparams:\n  p:\n    description: d\n"
            "    quote: false\n",
            6,
            "`quote: false` needs `choices` or `pattern`",
        ),
    ],
)
def test_a_bad_playbook_is_refused_with_its_file_line_and_problem(
    tmp_path: Path, text: str, line: int, what: str
) -> None:
    message = refusal(tmp_path, text)

    location, _, problem = message.partition(": ")
    assert location == f"{tmp_path}/.mycli/playbooks/task.yml:{line}" or location.endswith(
        f".mycli/playbooks/task.yml:{line}"
    ), message
    assert what in problem, message


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        # Tags on mappings and lists, which nothing constructs, are refused as well
        ("description: x\ncommand: a\nenv: !evil {A: b}\n", 3, "the tag !evil is not allowed"),
        (
            "description: x\ncommand: !!python/object/apply:os.system [id]\n",
            2,
            "the tag !!python/object/apply:os.system is not allowed",
        ),
        ("description: x\ncommand: a\nenv: !!set {A: b}\n", 3, "the tag !!set is not allowed"),
        ("description: x\ncommand: a\nenv: !!omap [A: b]\n", 3, "the tag !!omap"),
        ("description: x\ncommand: !!binary aWQ=\n", 2, "the tag !!binary is not allowed"),
        ("description: x\ncommand: !evil a\n", 2, "the tag !evil is not allowed"),
        ("description: x\ncommand: a\nenv:\n  !k A: b\n", 4, "the tag !k is not allowed"),
        (
            "description: x\ncommand: a\nenv:\n  <<: {A: b}\n",
            4,
            "'<<' reads as a merge key (<<), which a playbook does not take: put it in quotes",
        ),
        (
            "description: x\ncommand: a\nenv:\n  DAY: 2024-01-01\n",
            4,
            "'2024-01-01' reads as a date, which a playbook does not take: put it in quotes",
        ),
        # {{ }} where params are not substituted: refused at its line, whatever the key
        ("description: x\ncommand: a\nimage: '{{ params.i }}'\n", 3, "{{ ... }} in image:"),
        ("description: x\ncommand: a\ngit: 'https://h/{{ x }}'\n", 3, "{{ ... }} in git:"),
        ("description: x\ncommand: a\nsecrets: [a, '{{ s }}']\n", 3, "{{ ... }} in secrets.1:"),
        ("description: x\ncommand: a\ncpu: '{{ params.c }}'\n", 3, "{{ ... }} in cpu:"),
        ("description: x\ncommand: a\nupload: '{{ params.d }}'\n", 3, "{{ ... }} in upload:"),
        ("description: 'Deploy {{ params.e }}'\ncommand: a\n", 1, "{{ ... }} in description:"),
        (
            "description: x\ncommand: a\nparams:\n  p: {description: '{{ x }}'}\n",
            4,
            "{{ ... }} in params.p.description: params are used only in command, env values "
            "and lock",
        ),
    ],
)
def test_a_tag_outside_the_core_schema_or_a_misplaced_reference_is_refused(
    tmp_path: Path, text: str, line: int, what: str
) -> None:
    message = refusal(tmp_path, text)

    assert f"task.yml:{line}: " in message and what in message, message


def test_a_default_or_choice_holding_braces_is_a_value(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        "description: x\ncommand: a\nparams:\n  p: {description: d, default: '{{ x }}', "
        "choices: ['{{ x }}', b]}\n",
    )

    assert loaded.playbook.params["p"].default == "{{ x }}"


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    # Given a sparse 4 GiB playbook, and one a byte over the limit
    huge = write(tmp_path, "huge.yml", "")
    os.truncate(huge, 4 * 1024**3)
    over = write(tmp_path, "over.yml", "")
    over.write_bytes(b"description: x\ncommand: a\n" + b"#" * MAX_FILE_BYTES)

    # When each is loaded, then each is refused in one line (no MemoryError)
    for name in ("huge", "over"):
        with pytest.raises(PlaybookError, match=rf"{name}.yml: over the limit of 256 KiB"):
            load(find_playbook(name, tmp_path))


def test_a_fifo_in_place_of_a_playbook_does_not_hang(tmp_path: Path) -> None:
    # Given a playbook found, then replaced by a FIFO no one writes to
    path = write(tmp_path, "task.yml", "description: x\ncommand: a\n")
    found = find_playbook("task", tmp_path)
    path.unlink()
    os.mkfifo(path)

    # When it is read, then it is refused at once
    with pytest.raises(PlaybookError, match=r"task.yml: not a regular file"):
        load(found)


def test_a_file_that_is_not_utf8_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "task.yml", "")
    path.write_bytes(b"description: x\ncommand: echo \xff\n")

    with pytest.raises(PlaybookError, match=r"task.yml:2: not UTF-8 text"):
        load(find_playbook("task", tmp_path))


def test_a_name_the_platform_would_not_record_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "-bad.yml", "description: x\ncommand: a\n")

    with pytest.raises(PlaybookError, match="'-bad' is not a playbook name"):
        load(find_playbook("-bad", tmp_path))


PARAMS = """
description: deploy
command: ./deploy.sh {{ params.env }} {{ params.version }}
params:
  env:
    description: where to
    choices: [staging, prod]
  version:
    description: what to
    default: "1.0"
    pattern: "[0-9]+[.][0-9]+"
"""


@pytest.mark.parametrize(
    ("params", "line", "what"),
    [
        ((), 4, "missing param 'env' (where to): --param env=VALUE"),
        (("env=prod", "colour=red"), 3, "unknown --param 'colour': the playbook 'task' takes"),
        (("env=prod", "env=staging"), 4, "--param env given twice"),
        (("env",), 3, "write --param NAME=VALUE"),
        (("env=qa",), 6, "param env: 'qa' is not one of: staging, prod"),
        (("env=prod", "version=latest"), 10, "'latest' does not match the pattern"),
        (("env=prod", "version=1.0\x00"), 7, "must not contain NUL"),
    ],
)
def test_bad_params_are_refused_with_the_line_of_the_param(
    tmp_path: Path, params: tuple[str, ...], line: int, what: str
) -> None:
    message = refusal(tmp_path, PARAMS, *params)

    assert f"task.yml:{line}: " in message, message
    assert what in message, message


@pytest.mark.parametrize(
    ("keys", "line", "what"),
    [
        ('git: "ext::sh -c id"\n', 3, "git: git_url must not contain blanks"),
        ("git: ext::id\n", 3, "git: git_url must not use a transport::address form"),
        ("git: https://h/r.git#..bad\n", 3, "git: git_ref '..bad' is not a branch, tag"),
        ("git: --upload-pack=x\n", 3, "git: git_url must not start with '-'"),
        ("git: https://h/r.git\ngit_subdir: ../up\n", 4, "git_subdir: git_subdir must not"),
    ],
)
def test_a_git_source_exec_would_refuse_is_refused_at_its_line(
    tmp_path: Path, keys: str, line: int, what: str
) -> None:
    message = refusal(tmp_path, "description: x\ncommand: ls\n" + keys)

    assert f"task.yml:{line}: {what}" in message, message


def test_a_git_source_exec_takes_is_taken(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        "description: x\ncommand: ls\ngit: git@example.com:acme/r.git#v1.2\ngit_subdir: ./a/\n",
    )

    assert (loaded.playbook.git, loaded.playbook.git_subdir) == (
        "git@example.com:acme/r.git#v1.2",
        "./a/",
    )


def test_yaml_1_1_words_stay_text_as_keys(tmp_path: Path) -> None:
    # Given env names YAML 1.1 would read as booleans
    loaded = load_text(tmp_path, 'description: x\ncommand: a\nenv:\n  ON: "1"\n  "NO": "0"\n')

    assert loaded.playbook.env == {"ON": "1", "NO": "0"}


# -- the published schema ----------------------------------------------------------------------


def test_the_committed_schema_is_the_model_s() -> None:
    committed = ROOT / "docs" / "playbook.schema.json"
    assert committed.read_text() == schema_json(), (
        "docs/playbook.schema.json is stale: "
        "python -m mycli.playbooks.schema > docs/playbook.schema.json"
    )


def test_the_schema_agrees_with_the_model_on_the_guides_example(tmp_path: Path) -> None:
    # Given the playbooks guide's example playbook
    guide = (ROOT / "docs" / "playbooks.md").read_text()
    example = guide.split("```yaml\n# .mycli/playbooks/deploy.yml\n", 1)[1].split("```", 1)[0]
    loaded = load_text(tmp_path, example)
    validator = jsonschema.Draft202012Validator(playbook_schema())
    data = loaded.playbook.model_dump(exclude_defaults=True)

    # Then both accept it, and both refuse the same mistakes
    validator.validate(data)
    for mistake in ({"colour": "red"}, {"timeout": "30"}, {"git": "https://h/r", "upload": "."}):
        assert not validator.is_valid({**data, **mistake})
    assert not validator.is_valid({**data, "env": {"1BAD": "x"}})


def test_the_schema_module_prints_it() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "mycli.playbooks.schema"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert json.loads(printed) == playbook_schema()


# -- every rule `run` applies without run-time input, at FILE:LINE ------------------------------

SECRETS_21 = "secrets:\n" + "".join(f"  - S{i}\n" for i in range(21))


@pytest.mark.parametrize(
    ("keys", "line", "what"),
    [
        # An empty lock has no bad character, but is no lock name either
        ('lock: ""\n', 3, "lock: '': lock names are 1-128 characters"),
        # The platform's limit on secrets per run, as the server and `exec --secret` say it
        (SECRETS_21, 3, "secrets: 21 secrets, over the limit of 20 per run"),
        # A secret's variable given twice, or a name no secret has (exec's own rules)
        ("secrets: [A=s1, A=s2]\n", 3, "secrets.1: A is given twice"),
        ("secrets: [V=.hidden]\n", 3, "secrets.0: '.hidden': secret names are"),
        ("env: {A: x}\nsecrets: [A=s]\n", 4, "secrets.0: A is set both with env and"),
        # A git credential over cleartext http:// to another host: the server's rule
        (
            "git: http://example.com/x.git\ngit_secret: tok\n",
            4,
            "git_secret: git_secret goes only over https://",
        ),
    ],
)
def test_what_run_refuses_whatever_the_params_is_refused_on_load(
    tmp_path: Path, keys: str, line: int, what: str
) -> None:
    message = refusal(tmp_path, "description: x\ncommand: ls\n" + keys)

    assert f"task.yml:{line}: {what}" in message, message


def test_a_param_name_with_a_control_character_is_shown_escaped(tmp_path: Path) -> None:
    message = refusal(
        tmp_path, 'description: x\ncommand: ls\nparams:\n  "a\\nb\\x1b[31m": {description: d}\n'
    )

    assert "\n" not in message and "\x1b" not in message, message
    assert "task.yml:4: params.a\\nb\\x1b[31m" in message, message


def test_wait_lock_without_a_lock_is_taken_on_load(tmp_path: Path) -> None:
    # `mycli run --lock NAME` can give the lock, so the file alone is not wrong
    loaded = load_text(tmp_path, "description: x\ncommand: ls\nwait_lock: 5\n")

    assert (loaded.playbook.wait_lock, loaded.playbook.lock) == (5, None)
