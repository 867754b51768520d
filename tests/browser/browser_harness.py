"""Drives the web console in a real Chromium page: sign in, move around, read what it shows."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from e2e.deployment import LocalDeployment

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class Console:
    page: Any
    local: LocalDeployment
    keys: dict[str, str]
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.on("dialog", self._on_dialog)

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def url(self, page: str = "") -> str:
        return f"{self.local.url}/ui/{page}"

    def open(self, page: str = "") -> None:
        self.page.goto(self.url(page))

    def sign_in(self, who: str = "admin", page: str = "") -> None:
        self.open(page)
        self.page.get_by_label("API key").fill(self.keys[who])
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("button", name="Sign out").wait_for()

    def start(self, command: str, who: str = "admin", *options: str) -> str:
        """A run started with `mycli exec --detach`; its id."""
        result = self.local.mycli(
            "exec", "--detach", "-o", "json", *options, "--", command, key=self.keys[who]
        )
        assert result.returncode == 0, result.stderr
        execution_id: str = json.loads(result.stdout)["execution_id"]
        return execution_id

    def wait_running(self, execution_id: str, who: str = "admin") -> None:
        self.local.wait_status(execution_id, ("RUNNING",))

    def log_text(self) -> str:
        """The log on screen, one line per terminal line (the last one is the open line)."""
        text: str = self.page.locator("#log").evaluate(
            "log => Array.from(log.children, (line) => line.textContent).join('\\n')"
        )
        return text

    def main_text(self) -> str:
        text: str = self.page.locator("main").inner_text()
        return text

    def axe(self, source: str) -> list[dict[str, Any]]:
        """Serious and critical axe-core violations on the page as it is now."""
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.evaluate(source)
        results: dict[str, Any] = self.page.evaluate(
            "async () => await window.axe.run(document, {resultTypes: ['violations']})"
        )
        return [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"]][:5],
            }
            for v in results["violations"]
            if v["impact"] in ("serious", "critical")
        ]


def eventually(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
