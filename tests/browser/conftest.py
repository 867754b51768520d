"""The browser layer: Debian's Chromium driven by Playwright against a real `mycli local up`.

One browser and one deployment per test session (per xdist worker); each test gets a fresh
browser context (its own sessionStorage). Without /usr/bin/chromium (installed by
`./scripts/setup --dev`) the layer is skipped, with the reason."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_harness import CHROMIUM, CHROMIUM_ARGS, Console

from e2e.deployment import LocalDeployment, running_deployment

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: `./scripts/setup --dev` installs Debian's chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed: run `./scripts/setup --dev`"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _missing()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    with running_deployment(tmp_path_factory.mktemp("console")) as deployment:
        yield deployment


@pytest.fixture(scope="session")
def keys(local: LocalDeployment) -> dict[str, str]:
    """API keys by name: admin, alice and bob (users)."""
    return {
        "admin": local.admin_key,
        "alice": local.add_user("alice@example.com"),
        "bob": local.add_user("bob@example.com"),
    }


@pytest.fixture
def console(browser: Any, local: LocalDeployment, keys: dict[str, str]) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=local.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    driver = Console(page=page, local=local, keys=keys)
    yield driver
    # A test's route handler may still be proxying a long-poll: drop it without waiting, or
    # its "response disposed" error surfaces in whatever the next test asks Playwright.
    page.unroute_all(behavior="ignoreErrors")
    context.close()
    assert driver.page_errors == [], driver.page_errors


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/screenshots when MYCLI_UPDATE_SCREENSHOTS=1 (then commit them), else a temp dir."""
    if os.environ.get("MYCLI_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def axe_source() -> str:
    path = ROOT / "node_modules" / "axe-core" / "axe.min.js"
    if not path.exists():
        if shutil.which("npm") is None:
            pytest.skip("axe-core is missing and npm is not installed")
        pytest.fail("node_modules/axe-core is missing: run `./scripts/setup --dev` (npm ci)")
    return path.read_text()
