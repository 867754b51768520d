"""A key pasted with a character keys never have (an invisible one, typographic quotes, a
space inside) is said to be that, in words, before anything is sent; an unreachable server is
still told apart. Chromium against a real `mycli local up`."""

from __future__ import annotations

import pytest
from browser_harness import Console
from playwright.sync_api import expect

MALFORMED = "That key contains a character keys never have"


@pytest.mark.parametrize(
    ("inserted", "at", "said"),
    [
        ("\u200b", 10, "an invisible character (U+200B) at position 11"),
        ("\u201c", 0, "“\u201c” (U+201C) at position 1"),
        (" ", 8, "a space at position 9"),
        ("\u00a0", 40, "an invisible character (U+00A0) at position 41"),
        ("\u00e9", 5, "“é” (U+00E9) at position 6"),
        ("\u2019", 43, "“\u2019” (U+2019) at position 44"),
    ],
    ids=[
        "zero-width-space",
        "curly-quote",
        "space-inside",
        "no-break-space",
        "accent",
        "apostrophe",
    ],
)
def test_a_key_with_a_character_keys_never_have_is_said_so_and_never_sent(
    console: Console, inserted: str, at: int, said: str
) -> None:
    page = console.page
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url))
    console.open()
    key = console.keys["alice"]
    pasted = key[:at] + inserted + key[at:]

    page.get_by_label("API key").fill(pasted)
    page.get_by_role("button", name="Sign in").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(MALFORMED)
    expect(alert).to_contain_text(said)
    assert "cannot be reached" not in alert.inner_text()
    assert not [url for url in sent if url.endswith("/me")], "nothing was sent with it"
    assert page.evaluate("() => sessionStorage.length") == 0
    assert console.page_errors == []


def test_the_same_key_typed_cleanly_signs_in_and_an_offline_server_is_still_unreachable(
    console: Console,
) -> None:
    page = console.page
    console.open()
    page.get_by_label("API key").fill(
        console.keys["alice"][:6] + "\u200b" + console.keys["alice"][6:]
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text(MALFORMED)

    page.context.set_offline(True)
    page.get_by_label("API key").fill(f"  {console.keys['alice']}  ")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("The server cannot be reached")

    page.context.set_offline(False)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("alice@example.com (user)")).to_be_visible()
