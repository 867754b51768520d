"""`mycli doctor` makes a check: `mycli list` leaves it out, `mycli list --checks` shows it
(with a PURPOSE column), and the next-page hint keeps --checks."""

from __future__ import annotations

import json

from cli_harness import CliHarness


def test_doctors_run_is_listed_only_with_checks(harness: CliHarness) -> None:
    # Given a run, then a doctor's check
    harness.run("exec", "--", "echo mine")
    doctor = harness.run("doctor", "--timeout", "30")
    assert doctor.exit_code == 0, doctor.stderr

    # When the user lists
    default = json.loads(harness.run("list", "-o", "json").stdout)["items"]
    checks = json.loads(harness.run("list", "--checks", "-o", "json").stdout)["items"]
    table = harness.run("list", "--checks").stdout.splitlines()
    page = harness.run("list", "--checks", "--limit", "1")

    # Then only --checks shows the check, marked as one
    assert [e["command"] for e in default] == ["echo mine"]
    assert [(e["command"], e["purpose"]) for e in checks] == [
        ("echo mycli-doctor", "check"),
        ("echo mine", "run"),
    ]
    assert table[0].split()[:8] == [
        "EXECUTION",
        "STATUS",
        "EXIT",
        "USER",
        "STARTED",
        "DURATION",
        "LOCK",
        "PURPOSE",
    ]
    assert " check " in table[1] and " run " in table[2]
    # and the next page's command keeps --checks
    assert page.stderr.startswith("more: mycli list --limit 1 --checks --cursor ")
    cursor = page.stderr.split()[-1]
    rest = json.loads(harness.run("list", "--checks", "--cursor", cursor, "-o", "json").stdout)
    assert [e["command"] for e in rest["items"]] == ["echo mine"]
