"""Playbook files: finding them, reading them with line numbers, every kind of mistake
refused with its file and line, and params substituted without becoming shell syntax."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest

from mycli.playbooks.loader import (
    LoadedPlaybook,
    PlaybookError,
    PlaybookNotFound,
    find_playbook,
    find_root,
    iter_loaded,
    load,
)
from mycli.playbooks.render import param_values, render
from mycli.playbooks.schema import playbook_schema, schema_json
from mycli.playbooks.shell import references

ROOT = Path(__file__).parents[2]


def write(root: Path, name: str, text: str) -> Path:
    directory = root / ".mycli" / "playbooks"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load_text(tmp_path: Path, text: str, name: str = "task.yml") -> LoadedPlaybook:
    write(tmp_path, name, text)
    return load(find_playbook(Path(name).stem, tmp_path))


def refusal(tmp_path: Path, text: str, *params: str, name: str = "task.yml") -> str:
    """The one-line message a playbook (and its --param values) is refused with."""
    with pytest.raises(PlaybookError) as refused:
        loaded = load_text(tmp_path, text, name)
        render(loaded, param_values(loaded, params))
    assert refused.value.exit_code == 2
    return refused.value.message


def sh(command: str) -> str:
    """What a real shell prints for `command`."""
    return subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, check=True, timeout=10
    ).stdout


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


# -- substitution ------------------------------------------------------------------------------


def test_a_value_never_becomes_shell_syntax(tmp_path: Path) -> None:
    # Given a string command using a param, and an attacker's value
    loaded = load_text(
        tmp_path,
        """
        description: greet
        command: echo hello {{ params.who }}; echo done
        params:
          who: {description: who}
        """,
    )
    hostile = "; echo pwned; $(echo subst) `echo tick` '\" \\"

    # When it is rendered and a real shell runs it
    output = sh(render(loaded, param_values(loaded, [f"who={hostile}"])).command)

    # Then the value is printed as one argument, nothing of it executed
    assert output == f"hello {hostile}\ndone\n"


# The two payloads of the security review: a command substitution with backticks inside it,
# and a value closing a single-quoted string to run its own command.
PAYLOADS = ["$(id -un)`echo INJECTED`", "x'; echo INJECTED2; '"]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(
    "command", ["echo hello {{ params.name }}", 'echo "hello "{{ params.name }}"!"']
)
def test_a_reference_outside_quotes_prints_the_payload_as_text(
    tmp_path: Path, command: str, payload: str
) -> None:
    # Given a string command with the reference outside quotes, and a hostile value
    loaded = load_text(
        tmp_path,
        f"description: greet\ncommand: '{command}'\nparams:\n  name: {{description: who}}\n",
    )

    # When a real shell runs it
    output = sh(render(loaded, param_values(loaded, [f"name={payload}"])).command)

    # Then the value is printed as it was given, nothing of it run
    assert output == f"hello {payload}{'!' if '!' in command else ''}\n"
    assert "INJECTED\n" not in output and "INJECTED2\n" not in output


@pytest.mark.parametrize(
    ("command", "inside"),
    [
        ('echo "hello {{ params.name }}"', 'double quotes "..."'),
        ("echo 'hello {{ params.name }}'", "single quotes '...'"),
        ("echo `echo {{ params.name }}`", "backticks `...`"),
        ('echo "`echo {{ params.name }}`"', "backticks `...`"),
        ("echo $(echo {{ params.name }})", "a command substitution $(...)"),
        ('echo "$(echo "{{ params.name }}")"', 'double quotes "..."'),
        ("echo ${NAME:-{{ params.name }}}", "a parameter expansion ${...}"),
        ("cat <<EOF\nhello {{ params.name }}\nEOF", "a here-document"),
        ("cat <<-'EOF'\n\thello {{ params.name }}\n\tEOF", "a here-document"),
        ("echo \\'{{ params.ok }}\\' 'it''s' \"{{ params.name }}\"", 'double quotes "..."'),
    ],
)
def test_a_quoted_param_inside_quotes_is_refused_with_file_and_line(
    tmp_path: Path, command: str, inside: str
) -> None:
    # Given a quoted param referenced where the shell would not read its quoting
    text = (
        f"description: greet\ncommand: {json.dumps(command)}\n"
        "params:\n  name: {description: who}\n  ok: {description: ok, default: ok}\n"
    )

    # When the playbook is loaded, then it is refused at the command's line, saying why
    message = refusal(tmp_path, text, "name=$(id)")

    assert message.endswith(
        f"task.yml:2: command: {{{{ params.name }}}} sits inside {inside}: write it outside "
        'quotes (like echo "hello "{{ params.name }}), its value is shell-quoted for you'
    ), message


@pytest.mark.parametrize(
    "command",
    [
        'echo {{ params.name }} # it\'s not "quoted" {{ params.name }}',
        'echo \\"{{ params.name }}\\" $((1 + (2))) $(echo "(") {{ params.name }}',
        "cat <<EOF; echo {{ params.name }}\nbody\nEOF\necho {{ params.name }}",
        "echo \"{{ params.flag }}\" '{{ params.flag }}'",
    ],
)
def test_references_the_shell_reads_as_words_are_kept(tmp_path: Path, command: str) -> None:
    # Given references outside quotes (after comments, escapes, $((...)), here-documents),
    # or of a `quote: false` param, which is pasted as written wherever it is
    loaded = load_text(
        tmp_path,
        f"description: x\ncommand: {json.dumps(command)}\nparams:\n"
        "  name: {description: who}\n"
        "  flag: {description: f, choices: ['-n', '-e'], default: '-n', quote: false}\n",
    )

    # When rendered and run, then the hostile value stays one argument
    output = sh(render(loaded, param_values(loaded, ["name=a'; echo INJECTED '"])).command)

    assert "INJECTED\n" not in output


def test_a_bash_here_string_is_a_word_not_a_here_document() -> None:
    # (sh here is dash, which has no <<<, so this one is checked on the scanner alone)
    scanned = references('cat <<< {{ params.a }} <<<"{{ params.b }}"')

    assert [(each.name, each.context) for each in scanned] == [("a", None), ("b", '"')]


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


def test_a_list_command_keeps_each_argument_whole(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        description: args
        command: [printf, "%s|", "--name={{ params.name }}", "{{ params.name }}"]
        params:
          name: {description: a name, default: "a b; c"}
        """,
    )

    command = render(loaded, param_values(loaded, [])).command

    assert sh(command) == "--name=a b; c|a b; c|"


def test_substitution_is_one_pass_so_a_value_cannot_pull_in_another(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        description: one pass
        command: echo {{ params.a }} {{params.b}}
        env:
          A: "<{{ params.a }}>"
        params:
          a: {description: a}
          b: {description: b, default: secret-ish}
        """,
    )

    rendered = render(loaded, param_values(loaded, ["a={{ params.b }}"]))

    assert sh(rendered.command) == "{{ params.b }} secret-ish\n"
    assert rendered.env == {"A": "<{{ params.b }}>"}


def test_an_unquoted_param_is_pasted_only_within_its_choices(tmp_path: Path) -> None:
    text = """
        description: flags
        command: ls {{ params.flags }} /
        params:
          flags: {description: ls flags, choices: ["-a", "-l -a"], default: "-a", quote: false}
        """
    loaded = load_text(tmp_path, text)

    assert render(loaded, param_values(loaded, ["flags=-l -a"])).command == "ls -l -a /"
    with pytest.raises(PlaybookError, match="is not one of"):
        param_values(loaded, ["flags=-a; reboot"])


def test_the_lock_takes_params_and_is_checked_as_a_lock_name(tmp_path: Path) -> None:
    text = """
        description: per environment
        command: "true"
        lock: deploy/{{ params.env }}
        params:
          env: {description: env}
        """
    loaded = load_text(tmp_path, text)

    assert render(loaded, param_values(loaded, ["env=prod"])).lock == "deploy/prod"
    with pytest.raises(PlaybookError, match=r"task.yml:3: lock 'deploy/a b': lock names are"):
        render(loaded, param_values(loaded, ["env=a b"]))


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


def test_the_schema_agrees_with_the_model_on_the_readme_example(tmp_path: Path) -> None:
    # Given the README's example playbook
    readme = (ROOT / "README.md").read_text()
    example = readme.split("```yaml\n# .mycli/playbooks/deploy.yml\n", 1)[1].split("```", 1)[0]
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


def test_a_lock_the_command_line_replaces_is_left_out(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        "description: x\ncommand: 'true'\nlock: a/{{ params.p }}\nparams:\n  p: {description: p}\n",
    )

    assert render(loaded, param_values(loaded, ["p=not a lock"]), with_lock=False).lock is None
