"""`python -m twin up | down | status | reset` (what ./scripts/aws-twin runs), and `serve`, the
background daemon `up` starts.

- `up`: synthesizes the stack (cached; `--context mycli:key=value`, repeatable, sets a
  tunable over cdk.json's as `cdk deploy -c` does), starts the daemon in the background, waits until
  it serves, then prints the API URL and a new admin key and writes the profile `twin`
  into mycli's config (XDG_CONFIG_HOME honoured, as `mycli local up` writes `local`).
  When a twin already runs in the run directory, it says so and changes nothing.
- `reset`: the running twin back to a fresh deployment (every task stopped, every table,
  bucket, secret and log stream emptied: twin/reset.py) with a new admin key, printed and
  written to the profile as `up` does; about a second instead of `down` and `up`.
- `down`: SIGTERM to the daemon (it stops every task, the API and moto), SIGKILL after a
  grace, then any container process of this run left behind.
- `set --task-start-delay SECONDS`: Fargate's start latency on the running twin, for the
  tasks started from then on (`up --task-start-delay` sets it at start; default 0):
  each task stays PROVISIONING, then PENDING, that long before its containers start.
Exit codes: 0 done (or already up / not running), 1 the twin could not start or stop (or
`set`: is not running), 2 a bad argument."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from twin.ecs.start_delay import StartDelaySetting, parse_start_delay
from twin.runstate import (
    ADMIN_KEY_FILE,
    LOG_FILE,
    RESET_FAILED_FILE,
    STATE_FILE,
    TEMPLATE_FILE,
    default_run_dir,
    kill_all,
    marked_processes,
    read_state,
    wait_gone,
    write_private,
)

if TYPE_CHECKING:
    from twin.daemon import Twin

PROFILE = "twin"
START_TIMEOUT_SECONDS = 180
STOP_GRACE_SECONDS = 40
RESET_TIMEOUT_SECONDS = 90


def say(message: str) -> None:
    print(f"aws-twin: {message}", file=sys.stderr, flush=True)


def up(
    run_dir: Path,
    port: int,
    reaper_interval: float | None,
    profile: str,
    context: list[str] | None = None,
    task_start_delay: float = 0.0,
) -> int:
    from twin.template import ROOT, TemplateError, parse_context, synthesize

    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    state = read_state(run_dir)
    if state is not None:
        say(f"already up at {state['url']} (run directory {run_dir}; stop it with `down`)")
        return 0
    StartDelaySetting(run_dir).write(task_start_delay)
    started = time.monotonic()
    try:
        template = synthesize(context=parse_context(context or []))
    except TemplateError as error:
        say(str(error))
        return 1
    (run_dir / TEMPLATE_FILE).write_text(json.dumps(template.body))
    (run_dir / ADMIN_KEY_FILE).unlink(missing_ok=True)
    command = [sys.executable, "-m", "twin", "serve", "--dir", str(run_dir), "--port", str(port)]
    if reaper_interval is not None:
        command += ["--reaper-interval", str(reaper_interval)]
    with (run_dir / LOG_FILE).open("ab") as log:
        daemon = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while (state := read_state(run_dir)) is None:
        if daemon.poll() is not None or time.monotonic() > deadline:
            if daemon.poll() is None:
                daemon.kill()
            tail = (run_dir / LOG_FILE).read_text(errors="replace")[-3000:]
            say(f"the twin did not start (log {run_dir / LOG_FILE}):\n{tail}")
            return 1
        time.sleep(0.1)
    key_path = run_dir / ADMIN_KEY_FILE
    admin_key = key_path.read_text().strip()
    key_path.unlink()
    config_file = _save_profile(profile, state["url"], admin_key)
    print(f"API URL: {state['url']}")
    print(f"Admin API key (saved in profile '{profile}'): {admin_key}")
    say(
        f"up in {time.monotonic() - started:.1f} s (profile '{profile}' in {config_file}; "
        f"run directory {run_dir}); try `mycli --profile {profile} whoami`; "
        "stop it with `./scripts/aws-twin down`"
    )
    return 0


def reset(run_dir: Path, profile: str) -> int:
    state = read_state(run_dir)
    if state is None:
        say(f"not running (run directory {run_dir})")
        return 1
    key_path, failed = run_dir / ADMIN_KEY_FILE, run_dir / RESET_FAILED_FILE
    key_path.unlink(missing_ok=True)
    failed.unlink(missing_ok=True)
    pid = int(state["pid"])
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + RESET_TIMEOUT_SECONDS
    while not key_path.exists():
        if failed.exists():
            say(f"the reset failed: {failed.read_text().strip()} (log {run_dir / LOG_FILE})")
            return 1
        if read_state(run_dir) is None or time.monotonic() > deadline:
            say(f"the twin did not reset (log {run_dir / LOG_FILE})")
            return 1
        time.sleep(0.05)
    admin_key = key_path.read_text().strip()
    key_path.unlink()
    _save_profile(profile, state["url"], admin_key)
    print(f"Admin API key (saved in profile '{profile}'): {admin_key}")
    say("reset: every task stopped, everything stored emptied")
    return 0


def _save_profile(name: str, url: str, api_key: str) -> Path:
    from mycli.config import ConfigFile

    config = ConfigFile.load()
    config.set_profile(name, make_current=False, api_url=url)
    config.profiles[name]["api_key"] = api_key
    return config.save()


def down(run_dir: Path) -> int:
    state = read_state(run_dir)
    if state is None:
        leftovers = marked_processes("MYCLI_TWIN_RUN", str(run_dir))
        kill_all(leftovers)
        say(f"not running (run directory {run_dir})")
        return 0
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    if not wait_gone(pid, STOP_GRACE_SECONDS):
        say("the twin did not stop in time: killing it")
        os.killpg(pid, signal.SIGKILL)
        wait_gone(pid, 5)
    kill_all(marked_processes("MYCLI_TWIN_RUN", str(run_dir)))
    (run_dir / STATE_FILE).unlink(missing_ok=True)
    say("down")
    return 0


def set_start_delay(run_dir: Path, seconds: float) -> int:
    if read_state(run_dir) is None:
        say(f"not running (run directory {run_dir})")
        return 1
    StartDelaySetting(run_dir).write(seconds)
    say(f"tasks started from now on stay PROVISIONING/PENDING for {seconds:g} s")
    return 0


def status(run_dir: Path) -> int:
    state = read_state(run_dir)
    if state is None:
        say(f"not running (run directory {run_dir})")
        return 1
    print(json.dumps(state, indent=2))
    return 0


def serve(run_dir: Path, port: int, reaper_interval: float | None) -> int:
    """The daemon: start the twin, write the state, serve until SIGTERM/SIGINT."""
    import logging

    from twin.daemon import Twin, TwinOptions
    from twin.template import Template

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    stop, reset_asked = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: reset_asked.set())
    template = Template(json.loads((run_dir / TEMPLATE_FILE).read_text()))
    twin = Twin(template, TwinOptions(run_dir, port, reaper_interval))
    try:
        url = twin.start()
        write_private(run_dir / ADMIN_KEY_FILE, twin.admin_key())
        state = {
            "pid": os.getpid(),
            "url": url,
            "moto_url": twin.moto_url,
            "s3_url": twin.s3_url,
            "run_dir": str(run_dir),
        }
        write_private(run_dir / STATE_FILE, json.dumps(state))
        logging.getLogger("twin").info("serving at %s (moto %s)", url, twin.moto_url)
        while not stop.is_set():
            if reset_asked.wait(0.2):
                reset_asked.clear()
                _reset(twin, run_dir)
    finally:
        (run_dir / STATE_FILE).unlink(missing_ok=True)
        twin.close()
    return 0


def _reset(twin: Twin, run_dir: Path) -> None:
    """The daemon's side of `reset`: the new admin key, or why it failed, in the run dir."""
    try:
        twin.reset()
        write_private(run_dir / ADMIN_KEY_FILE, twin.admin_key())
    except Exception as error:
        import logging

        logging.getLogger("twin").exception("the reset failed")
        write_private(run_dir / RESET_FAILED_FILE, str(error) or type(error).__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aws-twin", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "status", "serve", "reset", "set"):
        command = commands.add_parser(name)
        command.add_argument("--dir", type=Path, default=None, help="the run directory")
        if name in ("up", "serve"):
            command.add_argument("--port", type=int, default=0, help="the API's port (0: any)")
            command.add_argument(
                "--reaper-interval",
                type=float,
                default=None,
                help="seconds between reaper runs (default: the template's schedule)",
            )
        if name in ("up", "reset"):
            command.add_argument("--profile", default=PROFILE, help="the profile to write")
        if name == "up":
            command.add_argument(
                "--context",
                action="append",
                default=[],
                metavar="mycli:KEY=VALUE",
                help="a stack tunable over cdk.json's (repeatable), as `cdk deploy -c` takes",
            )
        if name in ("up", "set"):
            command.add_argument(
                "--task-start-delay",
                type=_start_delay,
                default=0.0 if name == "up" else None,
                required=name == "set",
                metavar="SECONDS",
                help="how long each task stays PROVISIONING/PENDING before its containers "
                "start, as Fargate's 30-60 s (default 0: at once)",
            )
    options = parser.parse_args(argv)
    run_dir = (options.dir or default_run_dir()).expanduser().resolve()
    if options.command == "up":
        return up(
            run_dir,
            options.port,
            options.reaper_interval,
            options.profile,
            options.context,
            options.task_start_delay,
        )
    if options.command == "set":
        return set_start_delay(run_dir, options.task_start_delay)
    if options.command == "down":
        return down(run_dir)
    if options.command == "status":
        return status(run_dir)
    if options.command == "reset":
        return reset(run_dir, options.profile)
    return serve(run_dir, options.port, options.reaper_interval)


def _start_delay(text: str) -> float:
    try:
        return parse_start_delay(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
