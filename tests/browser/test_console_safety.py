"""Attacker-controlled text (log bytes, commands, emails) stays text; the console passes
axe-core at desktop and phone width; screenshots of the main pages."""

from __future__ import annotations

from pathlib import Path

from browser_harness import DESKTOP, PHONE, Console
from playwright.sync_api import expect

IMG = '<img src=x onerror="window.__pwned=1;alert(1)">'
SCRIPT = "</script><script>window.__pwned=2;alert(2)</script>"
SVG = "<svg/onload=window.__pwned=3>"


def test_log_bytes_and_commands_that_look_like_html_are_shown_and_never_run(
    console: Console,
) -> None:
    page = console.page
    command = f"printf '%s\\n' '{IMG}' '{SCRIPT}'; printf '%s\\n' '{SVG}' >&2"
    execution_id = console.start(command, "alice")
    console.local.wait_status(execution_id, ("SUCCEEDED",))
    console.sign_in("alice")
    expect(page.locator(f'tr[data-key="{execution_id}"]')).to_contain_text(IMG)

    console.open(f"executions/{execution_id}")
    expect(page.get_by_text("the log is complete")).to_be_visible()
    assert console.log_text().split("\n") == [IMG, SCRIPT, SVG, ""]
    expect(page.locator(".record pre")).to_have_text(command)
    assert page.locator("#log img, #log script, #log svg, main img, main svg").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    assert console.dialogs == []


def test_an_email_that_looks_like_html_is_shown_as_text(console: Console) -> None:
    email = "<img/src=x/onerror=window.__pwned=4>@example.com"
    status, _ = console.local.api("POST", "/users", console.keys["admin"], {"email": email})
    assert status == 201
    console.sign_in("admin", "users")
    expect(console.page.get_by_role("rowheader", name=email, exact=True)).to_be_visible()
    assert console.page.locator("main img").count() == 0
    assert console.page.evaluate("() => window.__pwned") is None
    assert console.dialogs == []


def test_the_main_pages_pass_axe_at_desktop_and_phone_width_and_are_photographed(
    console: Console, axe_source: str, screenshot_dir: Path
) -> None:
    page = console.page
    coloured = (
        "printf '\\033[1;32m✔ build\\033[0m ok\\n\\033[33mwarning:\\033[0m slow step\\n'; "
        "for p in 10 40 70 100; do printf '\\rprogress %s%%' $p; sleep 0.05; done; echo; "
        "echo 'deploy failed: timeout' >&2; exit 3"
    )
    finished = console.start(coloured, "alice", "--lock", "infra-prod")
    console.local.wait_status(finished, ("FAILED",))
    running = console.start("echo building; sleep 60", "alice", "--lock", "db-main")
    console.wait_running(running)

    page.set_viewport_size(DESKTOP)
    console.open()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert console.axe(axe_source) == [], "sign-in"
    page.screenshot(path=str(screenshot_dir / "signin-desktop.png"))
    console.sign_in("admin")
    pages = {
        "runs": "",
        "run": f"executions/{finished}",
        "locks": "locks",
        "users": "users",
    }
    ready = {
        "runs": lambda: expect(page.locator(f'tr[data-key="{running}"]')).to_be_visible(),
        "run": lambda: expect(page.get_by_text("the log is complete")).to_be_visible(),
        "locks": lambda: expect(page.locator('tr[data-key="db-main"]')).to_be_visible(),
        "users": lambda: expect(page.locator('tr[data-key="alice@example.com"]')).to_be_visible(),
    }
    for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        for name, address in pages.items():
            console.open(address)
            ready[name]()
            if name == "run":
                assert "progress 100%" in console.log_text()
                assert "progress 10%" not in console.log_text()  # \r overwrote it
            assert console.axe(axe_source) == [], f"{name} at {size_name}"
            page.screenshot(path=str(screenshot_dir / f"{name}-{size_name}.png"), full_page=True)
    console.local.mycli("cancel", running)
    for shot in screenshot_dir.glob("*.png"):
        assert shot.stat().st_size > 5000, shot
