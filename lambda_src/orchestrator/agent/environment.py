"""What a run's command sees in its environment, on every backend (docs/run-environment.md):
built here once, by the embedded runner (the whole environment) and by the run agent (the
variables exported over the command container's own). Standard library only.

- `HOME`: the run's working directory (the checkout, the upload), removed after the run.
- `USER` and `LOGNAME`: RUN_USER, whoever submitted the run.
- `LANG`: C.UTF-8.
- `PATH`: given by the host. The embedded runner gives `host_path()`, the server's PATH
  without mycli's own environment (its venv); on AWS the image's own PATH is kept.
- then the run's own `--env` values and secrets, which may replace any of the above;
- then the host's markers (the embedded runner's process tracking), which nothing replaces.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

RUN_USER = "mycli"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def run_environment(
    *,
    home: str,
    variables: Mapping[str, str],
    path: str | None = None,
    markers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables a run's command gets (see the module's docstring): the base, then the
    run's `variables` (env and secrets), then the host's `markers`."""
    base = {"HOME": home, "USER": RUN_USER, "LOGNAME": RUN_USER, "LANG": "C.UTF-8"}
    if path is not None:
        base["PATH"] = path
    return {**base, **variables, **(markers or {})}


def host_path(
    path: str | None = None,
    own_prefixes: tuple[str, ...] | None = None,
) -> str:
    """`path` (default: this process's PATH) without the directories of mycli's own Python
    environment (a venv's, $VIRTUAL_ENV's), so nothing a run installs or runs lands there;
    DEFAULT_PATH when nothing is left."""
    if path is None:
        path = os.environ.get("PATH", "")
    prefixes = own_prefixes if own_prefixes is not None else own_environment_prefixes()
    kept = [
        entry
        for entry in path.split(os.pathsep)
        if entry and not any(_inside(entry, prefix) for prefix in prefixes)
    ]
    return os.pathsep.join(kept) or DEFAULT_PATH


def own_environment_prefixes() -> tuple[str, ...]:
    """The directories of this process's Python environment when it is a virtual one (its
    prefix, and $VIRTUAL_ENV); none for a system Python (its bin is the system's)."""
    prefixes = []
    if sys.prefix != sys.base_prefix:
        prefixes.append(sys.prefix)
    virtual_env = os.environ.get("VIRTUAL_ENV")
    if virtual_env:
        prefixes.append(virtual_env)
    return tuple(os.path.realpath(prefix) for prefix in prefixes)


def _inside(entry: str, prefix: str) -> bool:
    real = os.path.realpath(entry)
    return real == prefix or real.startswith(prefix.rstrip(os.sep) + os.sep)
