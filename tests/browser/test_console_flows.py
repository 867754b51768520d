"""The web console in Chromium against a real `mycli local up`: sign-in, runs, one run's
live log, cancel, filters and pages, locks, users, errors in words, keyboard only."""

from __future__ import annotations

import re
from typing import Any

from browser_harness import Console, eventually
from playwright.sync_api import expect


def test_a_wrong_key_is_refused_in_words_and_a_right_one_signs_in_until_sign_out(
    console: Console,
) -> None:
    page = console.page
    console.open()
    page.get_by_label("API key").fill("mycli_not-a-real-key")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("That API key is not valid")
    assert page.evaluate("() => sessionStorage.length") == 0

    page.get_by_label("API key").fill(console.keys["alice"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("alice@example.com (user)")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('mycli.apiKey')") == console.keys["alice"]
    assert page.context.cookies() == []
    assert console.keys["alice"] not in page.url

    page.reload()  # the key lives in this tab's sessionStorage
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_a_run_started_with_mycli_exec_shows_up_and_its_log_arrives_live(
    console: Console,
) -> None:
    page = console.page
    console.sign_in("alice")
    execution_id = console.start(
        "for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.4; done", "alice", "--lock", "live-1"
    )
    row = page.locator(f'tr[data-key="{execution_id}"]')
    expect(row).to_contain_text("for i in 1 2 3")  # appears without a reload
    expect(row).to_contain_text("alice@example.com")
    expect(row).to_contain_text("live-1")

    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(f"/ui/executions/{execution_id}$"))
    log = page.locator("#log")
    expect(log).to_contain_text("tick 1")
    # While the first lines are on screen the run is still going: this is a live follow.
    assert "tick 8" not in console.log_text()
    expect(page.locator(".record")).to_contain_text("RUNNING")
    expect(log).to_contain_text("tick 8", timeout=20_000)
    expect(page.get_by_text("the log is complete")).to_be_visible()
    expect(page.locator(".record")).to_contain_text("SUCCEEDED")
    assert console.log_text().split("\n") == [f"tick {i}" for i in range(1, 9)] + [""]
    page.get_by_role("button", name="Copy command").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == f"mycli logs -f {execution_id}"

    page.get_by_role("link", name="← All runs").click()
    expect(page.locator(f'tr[data-key="{execution_id}"]')).to_contain_text("SUCCEEDED")


def test_the_owner_cancels_a_running_run_after_confirming(console: Console) -> None:
    page = console.page
    execution_id = console.start("sleep 60", "alice")
    console.wait_running(execution_id)
    console.sign_in("alice", f"executions/{execution_id}")

    page.get_by_role("button", name="Cancel run").click()
    dialog = page.get_by_role("dialog", name="Cancel this run?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Keep it").click()
    assert console.local.execution(execution_id)["status"] == "RUNNING"

    page.get_by_role("button", name="Cancel run").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel run").click()
    expect(page.locator(".record")).to_contain_text("CANCELLED", timeout=15_000)
    assert console.local.execution(execution_id)["status"] == "CANCELLED"
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)


def test_another_users_run_url_is_not_found(console: Console) -> None:
    execution_id = console.start("echo mine", "alice")
    console.sign_in("bob", f"executions/{execution_id}")

    expect(console.page.get_by_role("heading", name="Run not found")).to_be_visible()
    expect(console.page.get_by_role("alert")).to_contain_text("not yours")
    assert "mine" not in console.main_text()


def test_an_admin_filters_by_status_and_user_and_pages_through(console: Console) -> None:
    page = console.page
    pager_key = console.local.add_user("pager@example.com")
    for number in range(23):
        status, _ = console.local.api(
            "POST", "/executions", pager_key, {"command": f"exit {number % 2}"}
        )
        assert status == 202
    eventually(
        lambda: all(
            e["status"] in ("SUCCEEDED", "FAILED")
            for e in console.local.api("GET", "/executions?limit=50", pager_key)[1]["items"]
        )
    )
    console.sign_in("admin")

    page.get_by_label("User").fill("pager@example.com")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?user=pager%40example\.com$"))
    rows = page.locator("table.data tbody tr")
    expect(rows).to_have_count(20)
    expect(page.get_by_text("Page 1")).to_be_visible()
    page.get_by_role("button", name="Older →").click()
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(rows).to_have_count(3)
    expect(page.get_by_role("button", name="Older →")).to_be_disabled()
    page.get_by_role("button", name="← Newer").click()
    expect(rows).to_have_count(20)

    page.get_by_label("Status").select_option("FAILED")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(rows).to_have_count(11)
    for text in rows.all_inner_texts():
        assert "FAILED" in text and "pager@example.com" in text and "exit 1" in text


def test_an_admin_force_releases_a_lock_after_confirming(console: Console) -> None:
    page = console.page
    execution_id = console.start("sleep 60", "alice", "--lock", "deploy/blue")
    console.wait_running(execution_id)

    console.sign_in("alice", "locks")  # users see locks, without the release button
    row = page.locator('tr[data-key="deploy/blue"]')
    expect(row).to_contain_text("alice@example.com")
    expect(row.get_by_role("button")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()

    console.sign_in("admin", "locks")
    expect(row.get_by_role("link", name=execution_id)).to_be_visible()
    row.get_by_role("button", name="Force release deploy/blue").click()
    page.get_by_role("dialog").get_by_role("button", name="Force release").click()
    expect(page.locator(".notice.info")).to_have_text("Released lock deploy/blue.")
    expect(row).to_have_count(0)
    assert all(lock["name"] != "deploy/blue" for lock in console.local.locks())
    console.local.mycli("cancel", execution_id)


def test_an_admin_adds_a_user_copies_the_key_shown_once_and_revokes_them(
    console: Console,
) -> None:
    page = console.page
    console.sign_in("admin", "users")
    page.get_by_label("Email").fill("carol@example.com")
    page.get_by_role("button", name="Add user").click()

    key = page.locator("#new-key-value").inner_text()
    assert key.startswith("mycli_")
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == key
    assert console.local.api("GET", "/me", key) == (
        200,
        {"email": "carol@example.com", "role": "user"},
    )
    page.get_by_role("button", name="Done: I saved the key").click()
    expect(page.locator("#new-key-value")).to_have_count(0)

    row = page.locator('tr[data-key="carol@example.com"]')
    row.get_by_role("button", name="Revoke carol@example.com").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("revoked")
    assert console.local.api("GET", "/me", key)[0] == 401


def test_errors_are_words_not_allowed_and_server_unreachable(console: Console) -> None:
    page = console.page
    console.sign_in("alice", "users")
    expect(page.get_by_role("alert")).to_have_text("Not allowed: this needs an admin's key.")

    page.get_by_role("link", name="Runs").click()
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    page.context.set_offline(True)
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("The server cannot be reached")
    page.context.set_offline(False)
    expect(page.get_by_role("alert")).to_have_count(0, timeout=10_000)

    console.open("no-such-page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()


def test_a_key_revoked_while_signed_in_brings_back_the_sign_in_in_words(
    console: Console,
) -> None:
    dave = console.local.add_user("dave@example.com")
    console.keys["dave"] = dave
    console.sign_in("dave")
    console.local.mycli("admin", "revoke-user", "dave@example.com", check=True)

    expect(console.page.get_by_role("alert")).to_contain_text("That API key is not valid")
    expect(console.page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_keyboard_alone_signs_in_opens_a_run_and_answers_a_confirmation(
    console: Console,
) -> None:
    page = console.page
    execution_id = console.start("sleep 60", "alice")
    console.wait_running(execution_id)
    console.open()
    keyboard = page.keyboard

    page.get_by_label("API key").wait_for()
    assert page.evaluate("() => document.activeElement.id") == "api-key"  # focused at once
    keyboard.type(console.keys["alice"])
    keyboard.press("Enter")
    link = page.locator(f'tr[data-key="{execution_id}"] a')
    expect(link).to_be_visible()

    for _ in range(40):  # Tab along until the run's link has the focus
        if link.evaluate("element => element === document.activeElement"):
            break
        keyboard.press("Tab")
    keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/ui/executions/{execution_id}$"))

    cancel = page.get_by_role("button", name="Cancel run")
    cancel.focus()
    keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    keyboard.press("Escape")  # closes without cancelling
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert console.local.execution(execution_id)["status"] == "RUNNING"
    cancel.focus()
    keyboard.press("Enter")
    keyboard.press("Tab")  # from "Keep it" to "Cancel run"
    keyboard.press("Enter")
    expect(page.locator(".record")).to_contain_text("CANCELLED", timeout=15_000)


def test_under_a_stage_prefix_as_on_aws_every_link_and_request_keeps_the_prefix(
    console: Console,
) -> None:
    """API Gateway serves the API under /prod: pass /prod/... on to the server without it,
    as the stage does, and refuse anything that lost the prefix."""
    page = console.page
    base = console.local.url
    lost: list[str] = []

    def stage(route: Any) -> None:
        url = route.request.url
        if url.startswith(f"{base}/prod/"):
            route.fulfill(response=route.fetch(url=base + url[len(base) + len("/prod") :]))
        else:
            lost.append(url)
            route.abort()

    page.route(f"{base}/**", stage)
    execution_id = console.start("echo staged", "alice")
    console.local.wait_status(execution_id, ("SUCCEEDED",))

    page.goto(f"{base}/prod/ui/executions/{execution_id}")
    page.get_by_label("API key").fill(console.keys["alice"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#log")).to_contain_text("staged")
    page.get_by_role("link", name="Locks").click()
    expect(page).to_have_url(f"{base}/prod/ui/locks")
    page.get_by_role("link", name="Runs").click()
    expect(page.locator(f'tr[data-key="{execution_id}"]')).to_be_visible()
    assert lost == []
