"""Playwright (sync API) with Debian's Chromium against pytest-django's live server.

Never ``playwright install``: the browser is the system's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM (used by fixtures that
# create users) refuses to run where a loop is running unless told it is safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("FLEXREG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        message = f"Chromium not found at {CHROMIUM} (make browser installs Debian's)"
        if os.environ.get("FLEXREG_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Problems:
    """What went wrong in the browser: console errors (CSP violations, script errors), failed
    requests for anything but the page itself, and any web font (FlexReg uses none: no GDS
    Transport)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def _console(self, message: Any) -> None:
        # A 403/404 page is a failed load for Chrome too; other failures are caught below.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.items.append(f"console {message.type}: {message.text}")

    def _request(self, request: Any) -> None:
        if request.resource_type == "font":
            self.items.append(f"font requested: {request.url}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.items.append(f"HTTP {response.status} {response.url}")

    def watch(self, page: Any) -> Any:
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.items.append(f"page error: {e}"))
        page.on("request", self._request)
        page.on("response", self._response)
        return page


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """new_page() -> a page in a fresh browser context (its own cookies) on the live server."""
    contexts: list[Any] = []
    problems = Problems()

    def make() -> Any:
        context = browser.new_context(base_url=live_server.url, locale="en-GB")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return problems.watch(context.new_page())

    make.problems = problems  # type: ignore[attr-defined]
    yield make
    for context in contexts:
        context.close()
    assert not problems.items, "\n".join(problems.items)
