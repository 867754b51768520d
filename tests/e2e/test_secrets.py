"""Secrets against a real `mycli local up`: set from stdin, used by a run, masked in
`mycli exec` and `mycli logs`, absent from the data directory, every API response touched
and the server log; admin only; restricted to images."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator

import pytest

from deployment import MYCLI, LocalDeployment, running_deployment

pytestmark = [pytest.mark.e2e, pytest.mark.both_backends]

VALUE = "E2e-Secret-Value-31337"
OTHER = "tf-Token-Value-4242"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    with running_deployment(tmp_path_factory.mktemp("secrets")) as local:
        yield local


@pytest.fixture(scope="module")
def alice(server: LocalDeployment) -> str:
    return server.add_user("alice@example.com")


def mycli(
    server: LocalDeployment, *args: str, key: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = server.env if key is None else {**server.env, "MYCLI_API_KEY": key}
    return subprocess.run(
        [MYCLI, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_secret_set_from_stdin_reaches_the_command_masked_and_is_stored_nowhere_in_clear(
    server: LocalDeployment, alice: str
) -> None:
    # given a secret set by the admin from a pipe
    set_result = mycli(
        server, "admin", "secrets", "set", "db.password", "--description", "db", stdin=VALUE
    )
    assert set_result.returncode == 0, set_result.stderr

    # when alice runs a command that prints it on both streams
    run = mycli(
        server,
        *("exec", "--secret", "DB=db.password", "--"),
        f'echo "pw: $DB"; echo "err $DB" >&2; test "${{#DB}}" = {len(VALUE)}',
        key=alice,
    )
    execution_id = re.search(r"execution (\w+) started", run.stderr)
    assert execution_id is not None, run.stderr
    logs = mycli(server, "logs", execution_id[1], key=alice)
    status = json.loads(mycli(server, "status", execution_id[1], "-o", "json", key=alice).stdout)

    # then it ran with the value, and the output shows *** wherever it was printed
    assert run.returncode == 0, run.stderr
    assert run.stdout == "pw: ***\n" and "err ***\n" in run.stderr
    assert logs.stdout == "pw: ***\n" and "err ***" in logs.stderr
    assert status["secret_names"] == ["DB=db.password"]

    # and the value is nowhere: not in what the deployment stores (its log included) ...
    assert VALUE.encode() not in server.stored_data()
    # ... nor in any response of the routes secrets touch
    responses = [
        server.api("GET", "/secrets", server.admin_key),
        server.api("PUT", "/secrets/another", server.admin_key, {"value": OTHER}),
        server.api("GET", f"/executions/{execution_id[1]}", alice),
        server.api("GET", f"/executions/{execution_id[1]}/logs", alice),
        server.api("GET", "/executions", server.admin_key),
        server.api("DELETE", "/secrets/another", server.admin_key),
    ]
    assert [status for status, _ in responses] == [200] * 6
    text = json.dumps(responses) + set_result.stdout + set_result.stderr + run.stdout + logs.stdout
    assert VALUE not in text and OTHER not in text
    listed = mycli(server, "admin", "secrets", "list")
    assert "db.password" in listed.stdout and VALUE not in listed.stdout


def test_a_user_cannot_set_list_or_delete_secrets(server: LocalDeployment, alice: str) -> None:
    for args in (("set", "mine"), ("list",), ("delete", "db.password")):
        result = mycli(server, "admin", "secrets", *args, key=alice, stdin=VALUE)

        assert result.returncode == 3, result.stderr
        assert result.stderr == "mycli: error: this needs the admin role\n"


def test_a_secret_restricted_to_another_image_is_refused_before_anything_runs(
    server: LocalDeployment, alice: str
) -> None:
    mycli(server, "admin", "secrets", "set", "tf-token", "--image", "terraform", stdin=OTHER)

    refused = mycli(
        server, "exec", "--lock", "tf", "--secret", "TF=tf-token", "--", "true", key=alice
    )

    assert refused.returncode == 2
    assert "may not be used by a run without --image" in refused.stderr
    assert server.locks() == []


PEM_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBe2eE2eMultiLineSecretLineThreeOfTheKeyForTheTest0000000000\n"
    "qgAAAAtzc2gtZWQyNTUxOQ==\n"
    "-----END OPENSSH PRIVATE KEY-----"
)


def test_each_line_of_a_multi_line_secret_printed_alone_is_masked_everywhere(
    server: LocalDeployment, alice: str
) -> None:
    # Given a PEM key stored as a secret (from a file: one trailing newline is dropped)
    stored = mycli(server, "admin", "secrets", "set", "deploy-key", stdin=PEM_KEY + "\n")
    assert stored.returncode == 0, stored.stderr
    lines = PEM_KEY.split("\n")

    # When a run prints it a line at a time on stdout, a line of it on stderr, and a short
    # line of its own
    run = mycli(
        server,
        *("exec", "--secret", "KEY=deploy-key", "--"),
        'printf "%s\\n" "$KEY" | while read l; do echo "line $l"; done; '
        'echo "$KEY" | sed -n 3p >&2; echo "}"',
        key=alice,
    )
    execution_id = re.search(r"execution (\w+) started", run.stderr)
    assert execution_id is not None, run.stderr
    logs = mycli(server, "logs", execution_id[1], key=alice)
    chunks = mycli(server, "logs", "-o", "json", execution_id[1], key=alice)

    # Then every line shows as *** in `mycli exec`, `mycli logs` and its JSON chunks
    assert run.returncode == 0, run.stderr
    assert run.stdout == logs.stdout == "line ***\n" * len(lines) + "}\n"
    assert "***\n" in run.stderr and "***\n" in logs.stderr
    replayed = b"".join(
        base64.b64decode(json.loads(line)["data"]) for line in chunks.stdout.splitlines()
    )
    assert sorted(replayed.split(b"\n")) == sorted((run.stdout + "***\n").encode().split(b"\n"))
    # and no line of it is in clear there or in any file of the data directory
    everything = run.stdout + run.stderr + logs.stdout + logs.stderr + replayed.decode()
    data = server.stored_data()
    for line in lines:
        assert line not in everything
        assert line.encode() not in data
