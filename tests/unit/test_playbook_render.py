"""Params given to the command as data: each travels as MYCLI_PARAM_<NAME>, a string command
refers to it, a real shell expands it, and no value is ever parsed as shell code, whatever
surrounds its reference. Checked with real `sh -c` (dash here) and bash."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mycli.playbooks.loader import PlaybookError
from mycli.playbooks.render import param_values, render
from mycli.playbooks.shell import Context, contexts
from playbook_files import load_text, refusal, run_rendered, sh

ONE_PARAM = "params:\n  v: {description: a value}\n"


def playbook(tmp_path: Path, command: object, extra: str = "") -> str:
    return f"description: x\ncommand: {json.dumps(command)}\n{extra}{ONE_PARAM}"


# -- the issue's injections --------------------------------------------------------------------

# A reference in a comment (a newline in the value ended it), behind a backslash, the same
# inside double quotes, and after `$(true)#"` (no comment: the value sat in "...").
INJECTIONS = [
    ("echo start # {{ params.v }}", "x\ntouch CANARY #", b"start\n"),
    ("echo \\{{ params.v }}", ";touch CANARY;#", None),
    ('echo "\\{{ params.v }}"', "$(touch CANARY)", None),
    ('echo $(true)#"{{ params.v }}"', "$(touch CANARY)", b"#$(touch CANARY)\n"),
]


@pytest.mark.parametrize(("command", "payload", "printed"), INJECTIONS)
def test_the_issue_s_injections_run_nothing(
    tmp_path: Path, command: str, payload: str, printed: bytes | None
) -> None:
    text = playbook(tmp_path, command)
    if printed is None:  # the lint refuses a reference behind a backslash, saying why
        assert "follows a backslash" in refusal(tmp_path, text, f"v={payload}")
        return
    loaded = load_text(tmp_path, text)

    result = run_rendered(render(loaded, param_values(loaded, [f"v={payload}"])), tmp_path)

    assert not (tmp_path / "CANARY").exists()
    assert (result.returncode, result.stdout) == (0, printed), result.stderr


# -- the mechanism, with the scanner out of the picture ---------------------------------------

# Contexts a scanner could misread. Whichever form a reference takes there ("${V}" or ${V}),
# the shell expands it and never parses what it expands to.
HOSTILE_CONTEXTS = [
    "echo start # R",
    "echo \\R",
    'echo "\\R"',
    'echo $(true)#"R"',
    "echo 'R'",
    'echo "a R b"',
    "echo ${UNSET:-R}",
    'echo "${UNSET:-R}"',
    "echo `echo R`",
    'echo "`echo R`"',
    "echo $(echo R)",
    "cat <<EOF\nR\nEOF",
    "cat <<'EOF'\nR\nEOF",
    "cat <<EOF\n\\R\nEOF",
    "echo $R",
    'echo "$R"',
    "case R in *) echo R;; esac",
    "A=R; echo $A",
]
HOSTILE_VALUES = [
    "x\ntouch CANARY #",
    ";touch CANARY;#",
    "$(touch CANARY)",
    "`touch CANARY`",
    "'; touch CANARY; '",
    '"; touch CANARY; "',
    '\\"; touch CANARY; #',
    "EOF\ntouch CANARY\nEOF",
]


@pytest.mark.parametrize("shell", ["sh", "bash"])
@pytest.mark.parametrize("form", ['"${MYCLI_PARAM_V}"', "${MYCLI_PARAM_V}"])
@pytest.mark.parametrize("template", HOSTILE_CONTEXTS)
def test_a_reference_in_any_context_never_runs_its_value(
    tmp_path: Path, shell: str, form: str, template: str
) -> None:
    for value in HOSTILE_VALUES:
        subprocess.run(
            [shell, "-c", template.replace("R", form)],
            env={"PATH": "/usr/bin:/bin", "MYCLI_PARAM_V": value},
            cwd=tmp_path,
            capture_output=True,
            check=False,
            timeout=20,
        )
        assert not (tmp_path / "CANARY").exists(), (template, form, value)


# -- the forms the scanner picks, and what it refuses -----------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("printf %s {{ params.v }}", "VALUE"),
        ("printf %s --x={{ params.v }}", "--x=VALUE"),
        ('printf %s "a {{ params.v }} b"', "a VALUE b"),
        ('printf %s "hello "{{ params.v }}"!"', "hello VALUE!"),
        ("printf %s ${UNSET:-{{ params.v }}}", "VALUE"),
        ('printf %s "${UNSET:-{{ params.v }}}"', "VALUE"),
        ('printf %s "$(printf %s {{ params.v }})"', "VALUE"),
        ('printf %s "`printf %s {{ params.v }}`"', "VALUE"),
        ("cat <<EOF\n{{ params.v }}\nEOF", "VALUE\n"),
        ("cat <<-EOF\n\t<{{ params.v }}>\n\tEOF", "<VALUE>\n"),
        ("printf %s {{params.v}}", "VALUE"),
        ("printf %s {{\tparams.v\n}}", "VALUE"),
        ("printf %s ok # {{ params.v }}", "ok"),
        ('printf %s "\\\\{{ params.v }}"', "\\VALUE"),
        ("printf %s $(true)#{{ params.v }}", "#VALUE"),
    ],
)
def test_each_context_gets_exactly_the_value(tmp_path: Path, command: str, expected: str) -> None:
    # Given a value with every character the shell cares about
    value = "a  *  b\n'\"\\`$(id)`;#{{ params.v }}\t\x01 é"
    (tmp_path / "file-a-glob-would-list").touch()
    loaded = load_text(tmp_path, playbook(tmp_path, command))

    # When a real shell runs the rendered command
    result = run_rendered(render(loaded, param_values(loaded, [f"v={value}"])), tmp_path)

    # Then it prints exactly the value where the reference was
    assert result.stdout.decode() == expected.replace("VALUE", value), result.stderr


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("echo '{{ params.v }}'", "sits inside single quotes '...', where the shell expands"),
        ("echo 'a'\"b\"'{{ params.v }}'", "sits inside single quotes"),
        ("cat <<'EOF'\n{{ params.v }}\nEOF", "sits in a here-document with a quoted delimiter"),
        ('cat <<"E"F\n{{ params.v }}\nEF', "sits in a here-document with a quoted delimiter"),
        ("cat <<EOF\n\\{{ params.v }}\nEOF", "follows a backslash"),
        ("echo \\{{ params.v }}", "follows a backslash"),
        ('echo "\\{{ params.v }}"', "follows a backslash"),
        ("echo ${{ params.v }}", "follows a $"),
        ('echo "${{ params.v }}"', "follows a $"),
        ("echo $(( {{ params.v }} + 1 ))", "sits inside an arithmetic expansion"),
        ("echo $(( $(echo {{ params.v }}) ))", "sits inside an arithmetic expansion"),
    ],
)
def test_a_reference_the_shell_would_not_expand_as_written_is_refused(
    tmp_path: Path, command: str, why: str
) -> None:
    message = refusal(tmp_path, playbook(tmp_path, command), "v=1")

    assert f"task.yml:2: command: {{{{ params.v }}}} {why}" in message, message


def test_a_quote_false_param_is_pasted_wherever_it_is(tmp_path: Path) -> None:
    text = (
        "description: x\ncommand: echo '{{ params.flag }}' $(( {{ params.n }} + 1 ))\nparams:\n"
        "  flag: {description: f, choices: [x1, x2], default: x1, quote: false}\n"
        "  n: {description: n, pattern: '[0-9]{1,3}', default: '41', quote: false}\n"
    )
    loaded = load_text(tmp_path, text)

    rendered = render(loaded, param_values(loaded, []))

    assert rendered.command == "echo 'x1' $(( 41 + 1 ))"
    assert sh(rendered) == "x1 42\n"


def test_the_scanner_reads_a_here_string_as_a_word() -> None:
    # (sh here is dash, which has no <<<, so this one is checked on the scanner alone)
    command = 'cat <<< {{ params.a }} <<<"{{ params.b }}"'

    assert list(contexts(command).values()) == [Context.WORD, Context.QUOTED]


# -- list commands, env values, the lock, and what the record shows ---------------------------


def test_a_list_command_keeps_each_argument_whole(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        """
        description: args
        command: [printf, "%s|", "--name={{ params.name }}", "{{ params.name }}", "", "$HOME"]
        params:
          name: {description: a name, default: "a b; c $(id) '\\""}
        """,
    )

    rendered = render(loaded, param_values(loaded, []))

    assert rendered.command == (
        "printf '%s|' --name=\"${MYCLI_PARAM_NAME}\" \"${MYCLI_PARAM_NAME}\" '' '$HOME'"
    )
    assert sh(rendered) == "--name=a b; c $(id) '\"|a b; c $(id) '\"||$HOME|"


def test_every_param_travels_as_its_variable_and_env_values_take_it_as_it_is(
    tmp_path: Path,
) -> None:
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
          _Under: {description: c, default: "x"}
        """,
    )

    rendered = render(loaded, param_values(loaded, ["a={{ params.b }}"]))

    # Substitution is one pass: a value holding a reference stays that text
    assert sh(rendered) == "{{ params.b }} secret-ish\n"
    assert rendered.env == {"A": "<{{ params.b }}>"}
    assert rendered.variables == {
        "MYCLI_PARAM_A": "{{ params.b }}",
        "MYCLI_PARAM_B": "secret-ish",
        "MYCLI_PARAM__UNDER": "x",
    }


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
    for hostile in ("a b", "$(id)", "x\ny", "a" * 200):
        with pytest.raises(PlaybookError, match=r"task.yml:3: lock .*: lock names are"):
            render(loaded, param_values(loaded, [f"env={hostile}"]))


def test_a_lock_the_command_line_replaces_is_left_out(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        "description: x\ncommand: 'true'\nlock: a/{{ params.p }}\nparams:\n  p: {description: p}\n",
    )

    assert render(loaded, param_values(loaded, ["p=not a lock"]), with_lock=False).lock is None


# -- hostile values and names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("a\x00b", "param v: the value must not contain NUL"),
        ("\ud800", "param v: the value must not contain a lone surrogate"),
        ("x" * 8193, "param v: the value is 8193 characters, over the limit of 8192"),
    ],
)
def test_a_value_the_env_cannot_carry_is_refused_at_the_param_s_line(
    tmp_path: Path, value: str, what: str
) -> None:
    message = refusal(tmp_path, playbook(tmp_path, "echo {{ params.v }}"), f"v={value}")

    assert f"task.yml:4: {what}" in message, message


def test_the_params_and_env_together_stay_within_the_env_limits(tmp_path: Path) -> None:
    many = "".join(f"  p{index}: {{description: d, default: x}}\n" for index in range(101))
    big = "".join(
        f"  p{index}: {{description: d, default: '{'x' * 8000}'}}\n" for index in range(3)
    )

    too_many = refusal(tmp_path, f"description: x\ncommand: 'true'\nparams:\n{many}")
    too_big = refusal(tmp_path, f"description: x\ncommand: 'true'\nparams:\n{big}")

    assert "task.yml:3: 101 env variables with one per param, over the limit of 100" in too_many
    assert "task.yml:3: the env, one variable per param included, takes 24" in too_big


def test_a_control_character_travels_but_a_pasted_one_is_refused(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, playbook(tmp_path, "printf %s {{ params.v }}"))
    text = (
        "description: x\ncommand: echo {{ params.p }}\nparams:\n"
        "  p: {description: d, pattern: '.*', quote: false}\n"
    )

    assert sh(render(loaded, param_values(loaded, ["v=\x1b[31m\x7f\x85"]))) == "\x1b[31m\x7f\x85"
    assert "param p: the value must not contain control characters (found U+001B)" in refusal(
        tmp_path, text, "p=\x1b[31m", name="pasted.yml"
    )


@pytest.mark.parametrize(
    ("params", "line", "what"),
    [
        ("  v: {description: a}\n  V: {description: b}\n", 5, "params 'v' and 'V' differ only"),
        ("  '1v': {description: a}\n", 4, "String should match pattern"),
        ("  'v-x': {description: a}\n", 4, "String should match pattern"),
        ("  'vé': {description: a}\n", 4, "String should match pattern"),
        ('  "v\\n": {description: a}\n', 4, "String should match pattern"),
        ("  " + "v" * 65 + ": {description: a}\n", 4, "String should match pattern"),
    ],
)
def test_a_param_name_that_cannot_be_a_variable_is_refused(
    tmp_path: Path, params: str, line: int, what: str
) -> None:
    message = refusal(tmp_path, f"description: x\ncommand: 'true'\nparams:\n{params}")

    assert f"task.yml:{line}: " in message and what in message, message


@pytest.mark.parametrize(
    ("keys", "line", "what"),
    [
        ("env:\n  MYCLI_PARAM_V: x\n", 4, "env.MYCLI_PARAM_V: MYCLI_PARAM_V: names starting with"),
        ("secrets: [MYCLI_PARAM_V]\n", 3, "secrets.0: MYCLI_PARAM_V: names starting with"),
        ("secrets: ['MYCLI_PARAM_X=tok']\n", 3, "secrets.0: MYCLI_PARAM_X: names starting with"),
    ],
)
def test_env_and_secret_variables_may_not_take_a_param_s_name(
    tmp_path: Path, keys: str, line: int, what: str
) -> None:
    message = refusal(tmp_path, f"description: x\ncommand: 'true'\n{keys}{ONE_PARAM}", "v=1")

    assert f"task.yml:{line}: {what}" in message, message


@pytest.mark.parametrize(
    ("command", "what"),
    [
        ("echo {{ {{ params.v }} }}", "is not a param"),
        ("echo {{ params.v }} }}", None),
        ("echo {{{ params.v }}}", "is not a param"),
        ("echo {{ params.v.x }}", "is not a param"),
        ("echo {{ PARAMS.v }}", "is not a param"),
        ("echo {{ params.w }}", "no param 'w' (declared: v)"),
        ("echo {{ params.v", "a {{ without its }}"),
        ("echo {{}}", "is not a param"),
    ],
)
def test_odd_references_are_refused_or_taken_as_text(
    tmp_path: Path, command: str, what: str | None
) -> None:
    text = playbook(tmp_path, command)
    if what is None:
        loaded = load_text(tmp_path, text)
        assert sh(render(loaded, param_values(loaded, ["v=$(id)"]))) == "$(id) }}\n"
        return

    assert what in refusal(tmp_path, text, "v=1")


def test_a_rendered_command_over_the_limit_is_refused(tmp_path: Path) -> None:
    command = "true " + "{{ params.v }}" * 1000 + " " + "x" * 2000

    message = refusal(tmp_path, playbook(tmp_path, command), "v=1")

    assert "task.yml:2: the command is 20006 characters once rendered, over the limit" in message
