"""The console's Locks page and queued runs in Chromium against a real `mycli local up`: a
run holder and its queue in order, followed live as the holder ends; holds taken, refused
and released from the page; a queued run's place and its cancel; server text stays text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from browser_harness import Console
from playwright.sync_api import expect

IMG = "<img src=x onerror=window.__pwned=1;alert(1)>"


def _create(console: Console, who: str, command: str, lock: str, wait: int | None = None) -> str:
    body: dict[str, Any] = {"command": command, "lock": lock}
    if wait is not None:
        body["wait_lock_seconds"] = wait
    status, execution = console.local.api("POST", "/executions", console.keys[who], body)
    assert status == 202, execution
    assert execution["status"] == ("QUEUED" if wait else execution["status"])
    execution_id: str = execution["execution_id"]
    return execution_id


def _cancel(console: Console, *execution_ids: str) -> None:
    for execution_id in execution_ids:
        console.local.api("POST", f"/executions/{execution_id}/cancel", console.keys["admin"])


def _queue_ids(row: Any) -> list[str]:
    ids: list[str] = row.locator("ol.queue li").evaluate_all(
        "items => items.map((item) => item.dataset.executionId)"
    )
    return ids


def test_a_run_holder_and_two_queued_runs_show_in_order_and_follow_the_holder_ending_live(
    console: Console, axe_source: str, screenshot_dir: Path
) -> None:
    page = console.page
    holder = _create(console, "alice", "sleep 4", "queue-live")
    console.wait_running(holder)
    first = _create(console, "bob", "sleep 30", "queue-live", wait=60)
    second = _create(console, "alice", "sleep 30", "queue-live", wait=60)
    console.sign_in("alice", "locks")

    row = page.locator('tr[data-key="queue-live"]')
    holder_cell = row.locator("td").nth(0)
    expect(holder_cell.get_by_role("link", name=holder)).to_be_visible()
    expect(holder_cell).to_contain_text("alice@example.com")
    expect(holder_cell).to_contain_text("RUNNING")
    assert _queue_ids(row) == [first, second]
    expect(row.locator("ol.queue li").first).to_contain_text("bob@example.com")
    expect(row.locator("ol.queue li").first).to_contain_text("waited")
    expect(row.get_by_role("button")).to_have_count(0)  # a user cannot force a run's lock
    assert console.axe(axe_source) == []
    page.screenshot(path=str(screenshot_dir / "locks-queue-desktop.png"), full_page=True)

    page.set_viewport_size({"width": 1280, "height": 360})
    page.evaluate("() => { window.__same_page = true; window.scrollTo(0, 100); }")
    expect(holder_cell.get_by_role("link", name=first)).to_be_visible(timeout=20_000)
    assert page.evaluate("() => window.scrollY") == 100  # the update kept the scroll
    expect(holder_cell).to_contain_text("bob@example.com")
    expect(row.locator("ol.queue li")).to_have_count(1)
    assert _queue_ids(row) == [second]
    assert page.evaluate("() => window.__same_page") is True  # updated in place, no reload

    row.locator("ol.queue").get_by_role("link", name=second).click()
    expect(page).to_have_url(re.compile(f"/ui/executions/{second}$"))
    expect(page.locator("#queue-place")).to_contain_text(
        f"Queued for queue-live: 1st in line, behind bob@example.com's run {first} (RUNNING for"
    )
    _cancel(console, first, second)


def test_a_queued_runs_page_shows_its_place_and_cancel_takes_it_out_of_the_queue(
    console: Console,
) -> None:
    page = console.page
    holder = _create(console, "alice", "sleep 60", "queue-cancel")
    console.wait_running(holder)
    first = _create(console, "alice", "echo first", "queue-cancel", wait=60)
    second = _create(console, "alice", "echo second", "queue-cancel", wait=60)
    console.sign_in("alice", f"executions/{second}")

    expect(page.locator(".record .badge")).to_have_text("QUEUED")
    expect(page.locator("#queue-place")).to_have_text(
        re.compile(
            rf"^Queued for queue-cancel: 2nd in line, behind alice@example\.com's run {holder} "
            r"\(RUNNING for \d+ s\)\.$"
        )
    )
    expect(page.get_by_text("Queued: the log starts when the run gets its lock.")).to_be_visible()
    page.get_by_role("button", name="Cancel run").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel run").click()
    expect(page.locator(".record .badge")).to_have_text("CANCELLED", timeout=15_000)
    expect(page.locator("#queue-place")).to_be_hidden()
    (lock,) = [lock for lock in console.local.locks() if lock["name"] == "queue-cancel"]
    assert [entry["execution_id"] for entry in lock["queue"]] == [first]

    page.get_by_role("link", name="← All runs").click()
    page.get_by_label("Status").select_option("QUEUED")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?status=QUEUED$"))
    expect(page.locator(f'tr[data-key="{first}"]')).to_contain_text("QUEUED")
    expect(page.locator(f'tr[data-key="{second}"]')).to_have_count(0)
    _cancel(console, first, holder)


def test_a_hold_taken_on_the_page_shows_its_reason_is_refused_twice_and_its_holder_releases_it(
    console: Console,
) -> None:
    page = console.page
    console.sign_in("bob", "locks")
    page.get_by_label("Lock", exact=True).fill("freeze-prod")
    page.get_by_label("Reason").fill("   ")
    page.get_by_role("button", name="Hold", exact=True).click()
    expect(page.locator(".hold-lock .notice.error")).to_contain_text("Not accepted: ")
    page.get_by_label("For").fill("forever")
    page.get_by_label("Reason").fill("incident 42")
    page.get_by_role("button", name="Hold", exact=True).click()
    expect(page.locator(".hold-lock .notice.error")).to_contain_text('"forever" is not a duration')
    assert all(lock["name"] != "freeze-prod" for lock in console.local.locks())

    page.get_by_label("For").fill("2h")
    page.get_by_role("button", name="Hold", exact=True).click()
    expect(page.locator(".hold-lock .notice.info")).to_contain_text("You hold freeze-prod until")
    row = page.locator('tr[data-key="freeze-prod"]')
    expect(row).to_contain_text("hold by bob@example.com")
    expect(row.locator(".reason")).to_have_text("incident 42")
    expect(row.locator("td").nth(2)).to_have_text(re.compile(r"^in (1 h|2 h)"))

    page.get_by_label("Reason").fill("again")
    page.get_by_role("button", name="Hold", exact=True).click()
    expect(page.locator(".hold-lock .notice.error")).to_have_text(
        re.compile(r"^Not taken: lock 'freeze-prod' is held by bob@example\.com")
    )

    waiting = _create(console, "alice", "echo after the freeze", "freeze-prod", wait=600)
    expect(row.locator("ol.queue li")).to_have_count(1)
    assert _queue_ids(row) == [waiting]
    row.get_by_role("button", name="Release freeze-prod").click()
    page.get_by_role("dialog").get_by_role("button", name="Release").click()
    expect(page.locator("main > div > .notice.info")).to_have_text("Released lock freeze-prod.")
    console.local.wait_status(waiting, ("SUCCEEDED",))
    expect(row).to_have_count(0)
    status, history = console.local.api(
        "GET", "/lock-history?lock_name=freeze-prod", console.keys["bob"]
    )
    assert status == 200
    assert [(item["action"], item["user_email"], item["reason"]) for item in history["items"]] == [
        ("release", "bob@example.com", "incident 42"),
        ("hold", "bob@example.com", "incident 42"),
    ]


def test_a_hostile_reason_is_shown_as_text_on_the_locks_page_and_a_queued_runs_page(
    console: Console,
) -> None:
    page = console.page
    status, hold = console.local.api(
        "POST", "/locks/hostile/hold", console.keys["bob"], {"reason": IMG, "seconds": 600}
    )
    assert status == 201, hold
    waiting = _create(console, "alice", "echo later", "hostile", wait=600)
    console.sign_in("alice", "locks")

    row = page.locator('tr[data-key="hostile"]')
    expect(row.locator(".reason")).to_have_text(IMG)
    expect(row.get_by_role("button")).to_have_count(0)  # not alice's hold, and not an admin

    console.open(f"executions/{waiting}")
    expect(page.locator("#queue-place")).to_have_text(
        re.compile(r"^Queued for hostile: 1st in line, behind a hold by bob@example\.com: ")
    )
    expect(page.locator("#queue-place .reason")).to_have_text(IMG)
    assert page.locator("main img").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    assert console.dialogs == []
    _cancel(console, waiting)
    console.local.api("DELETE", "/locks/hostile", console.keys["bob"])
