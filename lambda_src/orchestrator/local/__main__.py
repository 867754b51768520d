"""`python -m orchestrator.local`: the server process behind `mycli local up`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from orchestrator.domain.executions import ExecutionPolicy
from orchestrator.domain.models import (
    DEFAULT_MAX_LOG_BYTES,
    DEFAULT_MAX_RUNNING_PER_USER,
    DEFAULT_MAX_RUNNING_TOTAL,
)
from orchestrator.domain.uploads import UploadPolicy
from orchestrator.local.platform import LocalSettings
from orchestrator.local.process import CannotListen, serve
from orchestrator.unpack import DEFAULT_MAX_ENTRIES, DEFAULT_MAX_UNPACKED_MIB, Limits


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.local")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--kill-grace", type=float, default=5.0)
    parser.add_argument("--max-upload-mb", type=int, default=50)
    parser.add_argument("--max-unpacked-mb", type=int, default=DEFAULT_MAX_UNPACKED_MIB)
    parser.add_argument("--max-upload-entries", type=int, default=DEFAULT_MAX_ENTRIES)
    parser.add_argument("--max-log-bytes", type=int, default=DEFAULT_MAX_LOG_BYTES)
    parser.add_argument("--log-retention-days", type=int, default=30)
    parser.add_argument("--max-running-per-user", type=int, default=DEFAULT_MAX_RUNNING_PER_USER)
    parser.add_argument("--max-running-total", type=int, default=DEFAULT_MAX_RUNNING_TOTAL)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    settings = LocalSettings(
        data_dir=args.data_dir.resolve(),
        kill_grace_seconds=args.kill_grace,
        upload_policy=UploadPolicy(max_bytes=args.max_upload_mb * 1024 * 1024),
        max_log_bytes=args.max_log_bytes,
        unpack_limits=Limits(args.max_unpacked_mb, args.max_upload_entries),
        log_retention_days=args.log_retention_days,
        policy=ExecutionPolicy(
            max_running_per_user=args.max_running_per_user,
            max_running_total=args.max_running_total,
        ),
        adopt_orphans=True,
    )
    try:
        serve(settings, args.host, args.port)
    except CannotListen as error:
        print(error, file=sys.stderr)  # the last line of server.log, for `mycli local up`
        sys.exit(error.exit_status)


if __name__ == "__main__":
    main()
