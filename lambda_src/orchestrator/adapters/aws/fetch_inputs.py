"""The `fetch` step of a prepared task (run as `python3 -c <this file> WORKSPACE`, standard
library only): download this run's manifest through the presigned URL in
$MYCLI_MANIFEST_URL, then write what it holds into the workspace: the command, the sealed
env pieces (and the masker's, with secrets; a git credential's in sealed-git/) and their
grant token, the upload archive and the stdin object (each fetched through its own
presigned URL), the git source (git/url, git/ref, git/subdir). Any failure exits non-zero
with the reason on stderr, and the later steps and the command never run."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import urllib.request
from pathlib import Path

ATTEMPTS = 3
TIMEOUT_SECONDS = 60


def download(url: str, target: Path) -> int:
    """Fetch `url` into `target` (retrying twice); returns the size."""
    error: Exception | None = None
    for _ in range(ATTEMPTS):
        try:
            with (
                urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response,
                target.open("wb") as out,
            ):
                shutil.copyfileobj(response, out)
            return target.stat().st_size
        except OSError as failed:
            error = failed
    raise RuntimeError(f"cannot download {target.name}: {error}")


def main(argv: list[str]) -> int:
    workspace = Path(argv[1])
    url = os.environ.get("MYCLI_MANIFEST_URL", "")
    if not url:
        print("mycli: fetch: no manifest URL given", file=sys.stderr)
        return 2
    try:
        (workspace / "work").mkdir(parents=True, exist_ok=True)
        manifest_path = workspace / "manifest.json"
        download(url, manifest_path)
        manifest = json.loads(manifest_path.read_text())
        manifest_path.unlink()
        (workspace / "command").write_text(manifest["command"])
        for key, folder in (
            ("sealed_env", "sealed"),
            ("sealed_mask", "sealed-mask"),
            ("sealed_git_credential", "sealed-git"),
        ):
            sealed = manifest.get(key) or []
            if sealed:
                (workspace / folder).mkdir(exist_ok=True)
                for number, piece in enumerate(sealed):
                    (workspace / folder / f"{number:03d}").write_bytes(base64.b64decode(piece))
        if manifest.get("grant_token"):
            (workspace / "grant-token").write_text(manifest["grant_token"])
        git = manifest.get("git") or {}
        if git:
            (workspace / "git").mkdir(exist_ok=True)
            for name, value in git.items():
                (workspace / "git" / name).write_text(value)
        for key, name in (("upload_url", "upload.tar.gz"), ("stdin_url", "stdin")):
            if manifest.get(key):
                size = download(manifest[key], workspace / name)
                print(
                    f"mycli: fetched {name} ({size} byte{'' if size == 1 else 's'})",
                    file=sys.stderr,
                )
    except (RuntimeError, OSError, ValueError, KeyError) as failed:
        print(f"mycli: fetch failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
