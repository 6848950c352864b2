"""Browser fixtures: `make run`'s stack on free ports, and Debian's headless Chromium.

The stack is the one `make run` starts (local.dev.serve_stack): moto, the sandbox, the local
API server and the demo page's server. The page's origin (http://localhost:<demo port>) is
the one allowed origin; the same server reached as http://127.0.0.1:<demo port> is another
origin, not allowed, for the CORS-refusal tests.

Chromium: $CHROMIUM, else `chromium` on PATH. Without one these tests fail with a message
saying so (never a skip that reads as a pass); `make test` runs them only when one is found
and prints that it skipped them otherwise.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from local.demo import bind_demo
from local.dev import serve_stack
from local.server import LocalApiServer
from tests.browser.support import SCREENSHOTS, DemoPage, DemoStack

# Fewer distinct PINs than make run's 5, so that the lockout test reaches its 429 sooner.
MAX_CODE_ATTEMPTS = "3"
# Where the start route may send (its fraud guard): the start-flow tests rely on US allowed
# and FR not; the function reads it at its cold start, before the first request.
START_COUNTRIES = "US"


def chromium_executable() -> str | None:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    return found if found and os.access(found, os.X_OK) else None


def _reset_cold_start_state() -> None:
    from telephone_status.service import reset_cold_start_state  # noqa: PLC0415 (lazy)

    reset_cold_start_state()


@pytest.fixture(scope="session")
def stack() -> Iterator[DemoStack]:
    """The API and the demo page on free ports, with moto and the sandbox behind them."""
    saved = dict(os.environ)
    os.environ.pop("TOKEN_ISSUER", None)  # the API's own URL, as make run does
    api = LocalApiServer(("127.0.0.1", 0), quiet=True)
    demo = bind_demo(0, api_url=api.url, quiet=True)
    try:
        with serve_stack(
            api, demo, cors_allow_origins=demo.origin, max_code_attempts=MAX_CODE_ATTEMPTS
        ) as local:
            os.environ["START_COUNTRIES"] = START_COUNTRIES
            _reset_cold_start_state()
            assert local.sandbox_url is not None
            running = DemoStack(api=api, demo=demo, sandbox_url=local.sandbox_url)
            # The refusal tests need an origin the API does not allow.
            assert running.foreign_origin not in os.environ["CORS_ALLOW_ORIGINS"].split(",")
            yield running
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _reset_cold_start_state()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    if executable is None:
        pytest.fail(
            "No Chromium found (set CHROMIUM or install Debian's `chromium`): the browser"
            " tests cannot run. `make test` skips them, visibly, when there is none.",
            pytrace=False,
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        # Playwright's own browser download cannot work here: the system Chromium it is.
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def demo_page(browser: Browser, stack: DemoStack) -> Iterator[DemoPage]:
    """A fresh browser context (own preflight cache, no shared state) per test; the API's
    request log starts empty for each test."""
    stack.api.served.clear()
    context = browser.new_context(viewport={"width": 900, "height": 1100})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield DemoPage(page, stack)
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"
