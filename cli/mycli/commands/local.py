"""`mycli local up | down | status`: the whole platform on this machine (SQLite, child
processes, log files), serving the same API as the AWS deployment."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from mycli import exitcodes
from mycli.commands.common import data_dir_option
from mycli.commands.local_backup import backup
from mycli.config import ConfigFile, config_path
from mycli.errors import CliError
from mycli.output import emit_json, output_option
from orchestrator.unpack import DEFAULT_MAX_ENTRIES, DEFAULT_MAX_UNPACKED_MIB

LOCAL_PROFILE = "local"
DEFAULT_PORT = 8765
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_URL = re.compile(
    r"^(?P<scheme>https?)://(?P<host>0\.0\.0\.0|::|\[::\]):(?P<port>\d+)(?P<rest>/.*)?$"
)
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 20.0

server_data_dir = data_dir_option("Where the database, logs and working directories live.")


@click.group()
def local() -> None:
    """Run the platform on this machine, no AWS needed."""


local.add_command(backup)


@local.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    envvar="MYCLI_LOCAL_PORT",
    show_default=True,
    help="TCP port; 0 picks a free one (default: MYCLI_LOCAL_PORT, then 8765).",
)
@click.option(
    "--host",
    default=None,
    help="Bind address (default 127.0.0.1). Anything else exposes command execution on this "
    "machine to the network.",
)
@server_data_dir
@click.option("--background", "-b", is_flag=True, help="Start in the background and return.")
@click.option(
    "--kill-grace",
    type=click.FloatRange(0, 600),
    default=5.0,
    show_default=True,
    help="Seconds between SIGTERM and SIGKILL when a command is cancelled or times out.",
)
@click.option(
    "--max-upload-mb",
    type=click.IntRange(1, 10240),
    default=50,
    show_default=True,
    help="Largest code upload (`mycli exec --upload`) the server accepts.",
)
@click.option(
    "--max-unpacked-mb",
    type=click.IntRange(1, 1024 * 1024),
    default=DEFAULT_MAX_UNPACKED_MIB,
    show_default=True,
    help="Most file data one upload may unpack to; a run whose upload unpacks to more ends FAILED.",
)
@click.option(
    "--max-upload-entries",
    type=click.IntRange(1, 10_000_000),
    default=DEFAULT_MAX_ENTRIES,
    show_default=True,
    help="Most files, directories and links one upload may hold; a run with more ends FAILED.",
)
@click.option(
    "--max-log-mb",
    type=click.IntRange(1, 1024 * 1024),
    default=100,
    show_default=True,
    help="Most output stored per execution; past it the run goes on, its output is dropped.",
)
@click.option("--max-log-bytes", type=click.IntRange(1), hidden=True)  # tests: a tiny cap
@click.option(
    "--log-retention-days",
    type=click.IntRange(1, 36500),
    default=30,
    show_default=True,
    help="Delete log files older than this (execution records are kept).",
)
@click.option(
    "--max-running-per-user",
    type=click.IntRange(1, 100_000),
    default=10,
    show_default=True,
    help="Executions one user may have running at once; more are refused (exit 5).",
)
@click.option(
    "--max-running-total",
    type=click.IntRange(1, 100_000),
    default=50,
    show_default=True,
    help="Executions that may be running at once on this platform, all users together.",
)
@click.pass_context
def up(
    ctx: click.Context,
    port: int,
    host: str | None,
    data_dir: Path,
    background: bool,
    kill_grace: float,
    max_upload_mb: int,
    max_unpacked_mb: int,
    max_upload_entries: int,
    max_log_mb: int,
    max_log_bytes: int | None,
    log_retention_days: int,
    max_running_per_user: int,
    max_running_total: int,
) -> None:
    """Start the local server and point the `local` profile at it.

    The first start creates an admin API key, prints it once and saves it in the profile.
    A restart marks what was still running FAILED ("server restarted") and frees its locks.
    """
    from orchestrator.local.platform import ensure_admin_key
    from orchestrator.local.process import running_state

    if host is None:
        host = "127.0.0.1"
    elif host not in LOOPBACK:
        click.echo(
            f"mycli: warning: binding {host}: anyone who can reach it with a key runs commands "
            "on this machine",
            err=True,
        )
    data_dir = data_dir.expanduser().resolve()
    profile_name = ctx.obj.profile_name or LOCAL_PROFILE
    state = running_state(data_dir)
    if state is not None:
        click.echo(f"mycli: already running at {state.get('url')} (data in {data_dir})", err=True)
        _say_where(reachable_url(str(state.get("url"))), ConfigFile.load())
        return
    config = ConfigFile.load()
    new_key = ensure_admin_key(data_dir, config.profiles.get(profile_name, {}).get("api_key"))

    def ready(url: str) -> None:
        url = reachable_url(url)
        config.set_profile(profile_name, make_current=False, api_url=url)
        if new_key:
            config.profiles[profile_name]["api_key"] = new_key
        path = config.save()
        if new_key:
            click.echo(f"Admin API key (shown once, saved in profile '{profile_name}'): {new_key}")
        click.echo(f"mycli: local platform at {url} (data in {data_dir})", err=True)
        _say_where(url, config, path)

    log_bytes = max_log_bytes or max_log_mb * 1024 * 1024
    if background:
        server_options = [
            *("--kill-grace", str(kill_grace), "--max-upload-mb", str(max_upload_mb)),
            *("--max-unpacked-mb", str(max_unpacked_mb)),
            *("--max-upload-entries", str(max_upload_entries)),
            *("--max-log-bytes", str(log_bytes), "--log-retention-days", str(log_retention_days)),
            *("--max-running-per-user", str(max_running_per_user)),
            *("--max-running-total", str(max_running_total)),
        ]
        ready(_start_background(data_dir, host, port, server_options))
        click.echo("mycli: stop it with `mycli local down`", err=True)
        return
    import logging

    from orchestrator.domain.executions import ExecutionPolicy
    from orchestrator.domain.uploads import UploadPolicy
    from orchestrator.local.platform import LocalSettings
    from orchestrator.local.process import CannotListen, serve
    from orchestrator.unpack import Limits

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    click.echo("mycli: serving in the foreground; Ctrl-C stops", err=True)
    settings = LocalSettings(
        data_dir=data_dir,
        kill_grace_seconds=kill_grace,
        upload_policy=UploadPolicy(max_bytes=max_upload_mb * 1024 * 1024),
        max_log_bytes=log_bytes,
        unpack_limits=Limits(max_unpacked_mb, max_upload_entries),
        log_retention_days=log_retention_days,
        policy=ExecutionPolicy(
            max_running_per_user=max_running_per_user, max_running_total=max_running_total
        ),
        adopt_orphans=True,
    )
    try:
        serve(settings, host, port, ready)
    except CannotListen as error:
        raise _cannot_listen(host, port, error.in_use, str(error)) from None


@local.command()
@server_data_dir
def down(data_dir: Path) -> None:
    """Stop the local server (running commands are stopped and recorded FAILED)."""
    from orchestrator.local.process import running_state

    data_dir = data_dir.expanduser().resolve()
    state = running_state(data_dir)
    if state is None:
        click.echo(f"mycli: no local server is running for {data_dir}", err=True)
        return
    pid = state.get("pid")
    if not isinstance(pid, int):
        raise CliError(f"a server holds {data_dir} but its state file is unreadable")
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while running_state(data_dir) is not None:
        if time.monotonic() > deadline:
            _signal(pid, signal.SIGKILL)
            click.echo("mycli: the server did not stop in time; killed it", err=True)
            break
        time.sleep(0.05)
    click.echo(f"mycli: stopped the local server (pid {pid})", err=True)


@local.command("status")
@server_data_dir
@output_option
def local_status(data_dir: Path, output: str) -> None:
    """Say whether a local server is running, and where (exit 1 when it is not)."""
    from orchestrator.local.process import running_state

    data_dir = data_dir.expanduser().resolve()
    state = running_state(data_dir)
    if output == "json":
        running = state is not None
        url = reachable_url(str(state.get("url"))) if state else None
        pid = state.get("pid") if state else None
        emit_json(
            {
                "running": running,
                "url": url,
                "pid": pid,
                "data_dir": str(data_dir),
                "console_url": f"{url}/ui/" if url else None,
                "profile": _profile_of(url, ConfigFile.load()) if url else None,
                "config_file": str(config_path()),
            }
        )
        if not running:
            sys.exit(1)
        return
    if state is None:
        raise CliError("not running", exit_code=1)
    url = reachable_url(str(state.get("url")))
    click.echo(f"running at {url} (pid {state.get('pid')})")
    click.echo(f"console: {url}/ui/")
    profile = _profile_of(url, ConfigFile.load())
    if profile is not None:
        click.echo(f"admin key: in profile '{profile}' of {config_path()}")


def _say_where(url: str, config: ConfigFile, path: Path | None = None) -> None:
    """The console's URL and the profile (and file) that holds the admin key, on stderr."""
    click.echo(f"mycli: web console at {url}/ui/ (`mycli console` opens it)", err=True)
    profile = _profile_of(url, config)
    if profile is not None:
        click.echo(
            f"mycli: admin key saved in profile '{profile}' of {path or config_path()}", err=True
        )


def _profile_of(url: str, config: ConfigFile) -> str | None:
    """The profile that points at `url` and holds a key (`local` first), if any."""
    names = sorted(config.profiles, key=lambda name: name != LOCAL_PROFILE)
    for name in names:
        values = config.profiles[name]
        if values.get("api_url") == url and values.get("api_key"):
            return name
    return None


def _cannot_listen(host: str, port: int, in_use: bool, reason: str) -> CliError:
    """One line for a port that is taken (exit 5) or an address this machine lacks (exit 2)."""
    if not in_use:
        return CliError(f"{reason}; check --host and --port", exitcodes.USAGE)
    version = _mycli_version_at(host, port)
    who = f"a mycli server, {version}, runs there" if version else "another program has it"
    return CliError(
        f"port {port} on {host} is already in use ({who}); start on another one with "
        "`mycli local up --port N` (--port 0 picks a free one)",
        exitcodes.CONFLICT,
    )


def _mycli_version_at(host: str, port: int) -> str | None:
    """The version a mycli server on `host:port` reports on GET /health, or None."""
    import json
    import urllib.request

    probe = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    netloc = f"[{probe}]" if ":" in probe else probe
    try:
        with urllib.request.urlopen(f"http://{netloc}:{port}/health", timeout=2) as response:
            health = json.loads(response.read())
    except (OSError, ValueError):
        return None
    if not isinstance(health, dict) or health.get("status") != "ok":
        return None
    return f"version {health.get('version')}"


def reachable_url(url: str) -> str:
    """A server bound to every address (0.0.0.0, ::) is reached on loopback by clients."""
    match = WILDCARD_URL.match(url)
    if match is None:
        return url
    loopback = "127.0.0.1" if match["host"] == "0.0.0.0" else "[::1]"
    return f"{match['scheme']}://{loopback}:{match['port']}{match['rest'] or ''}"


def _start_background(data_dir: Path, host: str, port: int, server_options: list[str]) -> str:
    """Start `python -m orchestrator.local` detached; return its URL once it is serving."""
    from orchestrator.adapters.local.private import private_file, secure_data_dir
    from orchestrator.local.process import read_state

    secure_data_dir(data_dir)
    log_path = data_dir / "server.log"
    command = [
        sys.executable,
        "-m",
        "orchestrator.local",
        "--data-dir",
        str(data_dir),
        "--host",
        host,
        "--port",
        str(port),
        *server_options,
    ]
    with private_file(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        state = read_state(data_dir)
        if state and state.get("pid") == process.pid:
            return str(state["url"])
        if process.poll() is not None:
            _raise_start_failure(host, port, process.returncode, log_path)
        time.sleep(0.05)
    process.kill()
    raise CliError(
        f"the local server did not start within {START_TIMEOUT_SECONDS:g}s; see {log_path}"
    )


def _raise_start_failure(host: str, port: int, status: int, log_path: Path) -> None:
    from orchestrator.local.process import EXIT_CANNOT_LISTEN, EXIT_PORT_IN_USE

    if status in (EXIT_PORT_IN_USE, EXIT_CANNOT_LISTEN):
        raise _cannot_listen(host, port, status == EXIT_PORT_IN_USE, _last_line(log_path))
    raise CliError(f"the local server did not start: {_last_line(log_path)}")


def _last_line(path: Path) -> str:
    lines = path.read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"no output (see {path})"


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
