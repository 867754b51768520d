"""`mycli doctor`: check a deployment end to end, phase by phase, with each phase's time.

Health, the key, the API's version against this CLI's, then one real execution of
`echo mycli-doctor` under a lock of its own, made as a check (`mycli list` leaves it out;
`mycli list --checks` shows it): the API round trip, PENDING → RUNNING, the
first log line, the exit code recorded, the lock taken and released. One verdict line;
exit 0 only if every phase passed."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from mycli import __version__, exitcodes
from mycli.client import api_path
from mycli.commands.common import pass_app
from mycli.errors import ApiError, CliError
from mycli.main import AppContext

COMMAND = "echo mycli-doctor"
MARKER = "mycli-doctor"
# A check (purpose "check"): recorded and readable like any run, counted by the quota, but
# left out of everyone's `mycli list` and the console's list (`mycli list --checks` shows it).
CHECK_REQUEST = {"command": COMMAND, "purpose": "check"}
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT")
RUNNING_OR_LATER = ("RUNNING", "CANCELLING", *TERMINAL)


@dataclass
class Phase:
    name: str
    passed: bool
    seconds: float
    detail: str


class Doctor:
    """Runs the phases against `client` (anything with get(path, **query) and post)."""

    def __init__(
        self,
        client: Any,
        *,
        timeout: float,
        report: Callable[[Phase], None],
        poll: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._report = report
        self._poll = poll
        self._sleep = sleep
        self.phases: list[Phase] = []

    @property
    def passed(self) -> bool:
        return bool(self.phases) and all(p.passed for p in self.phases)

    def run(self) -> bool:
        health = self._check("health", lambda: self._client.get("/health"), _describe_health)
        if health is None:
            return False
        self._record(
            "version",
            health.get("version") == __version__,
            0.0,
            f"API {health.get('version')}, CLI {__version__}",
        )
        if self._check("key", lambda: self._client.get("/me"), _describe_me) is None:
            return False
        self._execution()
        return self.passed

    # -- phases -----------------------------------------------------------------------------

    def _execution(self) -> None:
        lock = f"mycli-doctor-{uuid.uuid4().hex[:12]}"
        started = time.monotonic()
        created = self._check(
            "API round trip",
            lambda: self._create_check(lock),
            lambda e: f"execution {e['execution_id']} {e['status']}",
        )
        if created is None:
            return
        execution_id = created["execution_id"]
        self._record(
            "lock taken",
            created.get("lock_name") == lock and created.get("status") != "FAILED",
            0.0,
            f"{lock} held by {execution_id}"
            if created.get("status") != "FAILED"
            else f"the execution failed to start: {created.get('reason')}",
        )
        deadline = started + self._timeout
        running = self._wait_status(execution_id, RUNNING_OR_LATER, deadline)
        self._record(
            "PENDING → RUNNING",
            running is not None and running["status"] in RUNNING_OR_LATER,
            time.monotonic() - started,
            f"reached {running['status']}" if running else "still not running",
        )
        first_line = self._wait_first_line(execution_id, deadline)
        self._record(
            "first log line",
            first_line == MARKER,
            time.monotonic() - started,
            repr(first_line) if first_line is not None else "no output yet",
        )
        final = self._wait_status(execution_id, TERMINAL, deadline)
        self._record(
            "exit code recorded",
            final is not None and final["status"] == "SUCCEEDED" and final.get("exit_code") == 0,
            time.monotonic() - started,
            f"{final['status']}, exit code {final.get('exit_code')}"
            + (f" ({final['reason']})" if final.get("reason") else "")
            if final and final.get("status") in TERMINAL
            else f"not finished after {self._timeout:.0f}s",
        )
        self._record_release(lock, started, deadline)

    def _create_check(self, lock: str) -> Any:
        """POST the check; an API from before checks refuses `purpose` (400): then a plain
        run, which that API lists like any other."""
        body = CHECK_REQUEST | {"lock": lock}
        try:
            return self._client.post("/executions", body)
        except ApiError as error:
            if error.status != 400 or "purpose" not in f"{error.message} {error.details}":
                raise
        return self._client.post("/executions", {k: v for k, v in body.items() if k != "purpose"})

    def _record_release(self, lock: str, started: float, deadline: float) -> None:
        while True:
            try:
                held = held_lock_names(self._client.get("/locks"))
            except CliError as error:
                self._record("lock released", False, time.monotonic() - started, error.message)
                return
            if lock not in held or time.monotonic() >= deadline:
                break
            self._sleep(self._poll)
        self._record(
            "lock released",
            lock not in held,
            time.monotonic() - started,
            f"{lock} is free" if lock not in held else f"{lock} is still held",
        )

    # -- helpers ----------------------------------------------------------------------------

    def _check(
        self, name: str, call: Callable[[], Any], describe: Callable[[Any], str]
    ) -> Any | None:
        started = time.monotonic()
        try:
            result = call()
        except CliError as error:
            self._record(name, False, time.monotonic() - started, error.message)
            return None
        self._record(name, True, time.monotonic() - started, describe(result))
        return result

    def _record(self, name: str, passed: bool, seconds: float, detail: str) -> None:
        phase = Phase(name, passed, seconds, detail)
        self.phases.append(phase)
        self._report(phase)

    def _wait_status(
        self, execution_id: str, wanted: tuple[str, ...], deadline: float
    ) -> dict[str, Any] | None:
        while True:
            try:
                execution: dict[str, Any] = self._client.get(api_path("executions", execution_id))
            except CliError:
                execution = {}
            if execution.get("status") in wanted:
                return execution
            if time.monotonic() >= deadline:
                return execution or None
            self._sleep(self._poll)

    def _wait_first_line(self, execution_id: str, deadline: float) -> str | None:
        while True:
            try:
                page = self._client.get(api_path("executions", execution_id, "logs"))
            except CliError:
                page = {}
            text = _log_text(page)
            if text:
                return text.splitlines()[0].strip()
            finished = page.get("complete") or page.get("status") in TERMINAL
            if finished or time.monotonic() >= deadline:
                return None
            self._sleep(self._poll)


def _log_text(page: dict[str, Any]) -> str:
    """The text of a logs page (its chunks' base64 bytes)."""
    data = b"".join(base64.b64decode(c["data"]) for c in page.get("chunks", []))
    return data.decode(errors="replace")


def held_lock_names(listing: Any) -> list[str]:
    """The locks GET /locks says are held: `{"locks": [{"name", "holder"}]}` (a lock listed
    for its queue alone has no holder), or an older server's `{"items": [{"lock_name"}]}`."""
    if isinstance(listing, dict) and "locks" in listing:
        return [lock["name"] for lock in listing["locks"] if lock.get("holder")]
    items = listing.get("items", []) if isinstance(listing, dict) else listing
    return [item["lock_name"] for item in items]


def _describe_health(health: dict[str, Any]) -> str:
    return f"{health.get('status')} ({health.get('backend')})"


def _describe_me(me: dict[str, Any]) -> str:
    return f"{me['email']} ({me['role']})"


def show(phase: Phase) -> None:
    mark = "ok  " if phase.passed else "FAIL"
    click.echo(f"{mark} {phase.name:<20} {phase.seconds:8.3f}s  {phase.detail}", err=True)


def run_doctor(app: AppContext, timeout: float) -> bool:
    """Run every phase against the profile's deployment, print each, then the verdict."""
    client = app.client()
    click.echo(f"mycli doctor: checking {client.api_url}", err=True)
    doctor = Doctor(client, timeout=timeout, report=show)
    doctor.run()
    failed = [p.name for p in doctor.phases if not p.passed]
    if failed:
        click.echo(f"mycli doctor: FAILED ({', '.join(failed)})", err=True)
        return False
    click.echo(f"mycli doctor: all {len(doctor.phases)} checks passed", err=True)
    return True


@click.command()
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=300,
    show_default=True,
    help="Seconds to wait for the test execution (an AWS task's first start takes a minute).",
)
@pass_app
def doctor(app: AppContext, timeout: float) -> None:
    """Check the deployment: health, key, versions, and one real execution, phase by phase."""
    if not run_doctor(app, timeout):
        raise SystemExit(exitcodes.FAILURE)
