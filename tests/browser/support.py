"""The demo page as the browser tests drive it, and the stack it runs against."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from playwright.sync_api import Page

from local.demo import DemoServer
from local.server import LocalApiServer, Served

SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "build" / "screenshots"
STATUS_PATH: Final = "/v1/telephone-status"
START_PATH: Final = "/v1/verifications"


@dataclass(frozen=True)
class DemoStack:
    api: LocalApiServer
    demo: DemoServer
    sandbox_url: str

    @property
    def origin(self) -> str:
        """The demo page's origin: the one the API allows."""
        return self.demo.origin

    @property
    def foreign_origin(self) -> str:
        """The same page under another host name: an origin the API does not allow."""
        return f"http://127.0.0.1:{self.demo.port}"

    def served(self, *, origin: str, path: str) -> list[Served]:
        """What the API answered to requests from `origin` on `path`, oldest first."""
        return [s for s in list(self.api.served) if s.origin == origin and s.path == path]


class DemoPage:
    """The demo page in one browser context; every step waits for the page's own state."""

    def __init__(self, page: Page, stack: DemoStack) -> None:
        self.page = page
        self.stack = stack

    def open(self, origin: str | None = None) -> None:
        self.page.goto(f"{origin or self.stack.origin}/demo/")
        self.page.wait_for_selector("body[data-state=ready]")

    def _submit(self, selector: str) -> None:
        self.page.evaluate("document.body.dataset.state = 'busy'")
        self.page.click(selector)
        self.page.wait_for_selector("body:not([data-state=busy])")

    @property
    def state(self) -> str:
        return str(self.page.evaluate("document.body.dataset.state"))

    def check_pin(self, reference_id: str, pin: str) -> None:
        self.page.fill("#reference", reference_id)
        self.page.fill("#pin", pin)
        self._submit("#check-button")

    def submit_check(self) -> None:
        """Checks whatever the reference and PIN fields hold (e.g. a PIN filled from the inbox)."""
        self._submit("#check-button")

    def status_only(self, reference_id: str) -> None:
        self.page.fill("#reference", reference_id)
        self._submit("#status-button")

    def start(self, phone_number: str, channel: str, locale: str | None = None) -> None:
        self.page.fill("#phone", phone_number)
        self.page.check(f"input[name=channel][value={channel}]")
        if locale is not None:
            self.page.select_option("#locale", locale)
        self._submit("#start-button")

    def fill_pin_from_inbox(self) -> str:
        """Clicks the inbox button; the PIN the page filled in (read for the test only)."""
        self.page.click("#inbox-button")
        self.page.wait_for_selector("#inbox-note:not(:empty)")
        return self.page.input_value("#pin")

    def _fields(self, list_id: str) -> dict[str, str]:
        if self.page.is_hidden(f"#{list_id}"):
            return {}
        found: dict[str, str] = self.page.eval_on_selector_all(
            f"#{list_id} dd",
            "nodes => Object.fromEntries(nodes.map(n => [n.dataset.field, n.textContent]))",
        )
        return found

    def result(self) -> dict[str, str]:
        return self._fields("status-result")

    def started(self) -> dict[str, str]:
        return self._fields("start-result")

    def error(self) -> dict[str, str]:
        return self._fields("error-fields")

    def token_verdict(self) -> tuple[bool, str]:
        self.page.wait_for_selector("#token-verdict[data-verified]")
        verdict = self.page.locator("#token-verdict")
        return verdict.get_attribute("data-verified") == "true", verdict.inner_text()

    def token_claims(self) -> dict[str, Any]:
        shown: dict[str, Any] = json.loads(self.page.inner_text("#token-claims"))
        return shown

    def seconds_left(self) -> int:
        return int(self.page.inner_text("#retry-left"))

    def screenshot(self, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path
