"""`mycli exec --upload`'s PUT against a real HTTP server on 127.0.0.1: a store that refuses
the archive as too large (413, what a smaller limit set meanwhile answers) is "over a limit",
exit 2; other refusals stay failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mycli import exitcodes
from mycli.errors import CliError
from mycli.uploads import Archive, put


@pytest.fixture
def refusing_store() -> Iterator[tuple[str, list[int]]]:
    """A server answering each PUT with the next status of the list it yields."""
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(statuses.pop(0))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/upload", statuses
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [(413, exitcodes.USAGE, "over the server's limit"), (403, exitcodes.FAILURE, "HTTP 403")],
)
def test_a_refused_put_says_why_with_its_code(
    refusing_store: tuple[str, list[int]], tmp_path: Path, status: int, code: int, words: str
) -> None:
    url, statuses = refusing_store
    statuses.append(status)
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"x" * 1000)

    with pytest.raises(CliError) as refused:
        put({"url": url, "method": "PUT", "headers": {}}, Archive(archive, 1, 1000))

    assert refused.value.exit_code == code
    assert words in refused.value.message
