"""The PIN check and its token in a real browser, from another origin than the API.

curl never sends a preflight and never refuses to hand a page an unexposed header; Chromium
does both. These tests drive the demo page (clients/web/demo/) in headless Chromium against
`make run`'s stack: the page at http://localhost:<port>, the API at http://127.0.0.1:<port>.
"""

from __future__ import annotations

import time

import pytest

from local.sandbox import PIN, VENDOR_REFERENCE, status_reference
from tests.browser.support import STATUS_PATH, DemoPage

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

WRONG_PIN = "11111"


def test_a_pin_check_is_preflighted_then_answered_to_the_demo_origin(demo_page: DemoPage) -> None:
    stack = demo_page.stack
    demo_page.open()
    demo_page.check_pin(status_reference(203), WRONG_PIN)

    assert demo_page.result()["codeValid"] == "false"
    served = stack.served(origin=stack.origin, path=STATUS_PATH)
    # A JSON POST is not a "simple" request: the browser asked first, then sent it.
    assert [(s.method, s.status) for s in served] == [("OPTIONS", 204), ("POST", 200)]
    assert all(s.allow_origin == stack.origin for s in served)


def test_wrong_then_right_pin_and_the_token_verified_by_webcrypto(demo_page: DemoPage) -> None:
    demo_page.open()
    demo_page.screenshot("01-ready")

    demo_page.check_pin(VENDOR_REFERENCE, WRONG_PIN)
    assert demo_page.state == "checked"
    shown = demo_page.result()
    assert shown["codeValid"] == "false"
    assert shown["attemptsRemaining"] == "2"
    assert demo_page.page.is_hidden("#token-section")
    # Sent, then gone from the field; never in the page's URL.
    assert demo_page.page.input_value("#pin") == ""
    assert WRONG_PIN not in demo_page.page.url
    demo_page.screenshot("02-wrong-pin")

    demo_page.check_pin(VENDOR_REFERENCE, PIN)
    assert demo_page.state == "verified"
    shown = demo_page.result()
    assert shown["codeValid"] == "true"
    assert shown["status"] == "100 call delivered"
    verified, verdict = demo_page.token_verdict()
    assert verified, verdict
    assert "/v1/jwks.json" in verdict
    claims = demo_page.token_claims()
    assert claims["header"]["alg"] == "ES256"
    assert claims["claims"]["sub"] == VENDOR_REFERENCE
    assert claims["claims"]["iss"] == demo_page.stack.api.url
    assert PIN not in demo_page.page.url
    demo_page.screenshot("03-token-verified")


def test_an_altered_token_fails_verification_in_the_page(demo_page: DemoPage) -> None:
    """The page's check can fail: the same token with one claim changed does not verify."""
    demo_page.open()
    demo_page.check_pin(status_reference(100), PIN)
    verified, _ = demo_page.token_verdict()
    assert verified
    token = demo_page.page.inner_text("#token")
    header, claims, signature = token.split(".")
    api = demo_page.stack.api.url
    forged = demo_page.page.evaluate(
        """async ([header, claims, signature, api]) => {
            const { verifyToken } = await import("/telephone-status.js");
            const decoded = JSON.parse(atob(claims.replace(/-/g, "+").replace(/_/g, "/")));
            decoded.sub = "00000000000000000000000000000000";
            const altered = btoa(JSON.stringify(decoded))
                .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
            const genuine = await verifyToken(
                [header, claims, signature].join("."), `${api}/v1/jwks.json`);
            const forged = await verifyToken(
                [header, altered, signature].join("."), `${api}/v1/jwks.json`);
            return [genuine.verified, forged.verified, forged.reason];
        }""",
        [header, claims, signature, api],
    )
    assert forged == [True, False, "signature does not verify"]


def test_a_429_retry_after_is_read_by_the_page_and_counted_down(demo_page: DemoPage) -> None:
    reference = status_reference(200)
    demo_page.open()
    for wrong in ("11111", "22222", "33333", "44444", "55555"):
        demo_page.check_pin(reference, wrong)
        if demo_page.state != "checked":
            break
    assert demo_page.state == "locked"
    error = demo_page.error()
    assert error["code"] == "TOO_MANY_ATTEMPTS"
    assert error["attemptsRemaining"] == "0"
    # The page could read Retry-After only because the API exposes it to this origin.
    retry_after = int(demo_page.page.inner_text("#retry-after"))
    assert 0 < retry_after <= 24 * 3600
    assert demo_page.page.is_disabled("#check-button")
    first = demo_page.seconds_left()
    demo_page.screenshot("04-too-many-attempts")
    deadline = time.monotonic() + 3
    while demo_page.seconds_left() == first and time.monotonic() < deadline:
        demo_page.page.wait_for_timeout(200)
    assert demo_page.seconds_left() < first  # a live countdown, not a printed number


def test_a_page_on_a_disallowed_origin_sees_a_cors_failure_not_data(demo_page: DemoPage) -> None:
    stack = demo_page.stack
    demo_page.open(stack.foreign_origin)

    demo_page.status_only(VENDOR_REFERENCE)
    assert demo_page.state == "network-error"
    assert demo_page.error()["kind"] == "NETWORK_OR_CORS"
    assert demo_page.result() == {}
    # The API did answer (the browser withheld it): no grant for this origin.
    [get] = stack.served(origin=stack.foreign_origin, path=STATUS_PATH)
    assert (get.method, get.status, get.allow_origin) == ("GET", 200, None)
    demo_page.screenshot("05-disallowed-origin")

    demo_page.check_pin(VENDOR_REFERENCE, WRONG_PIN)
    assert demo_page.state == "network-error"
    # The preflight got no grant, so the POST with the PIN was never sent.
    served = stack.served(origin=stack.foreign_origin, path=STATUS_PATH)
    assert [(s.method, s.allow_origin) for s in served] == [("GET", None), ("OPTIONS", None)]

    # Plain fetch from that page: rejected, nothing readable.
    outcome = demo_page.page.evaluate(
        """async (api) => {
            try {
                const response = await fetch(`${api}/v1/jwks.json`);
                return `read ${response.status}`;
            } catch (error) {
                return error.name;
            }
        }""",
        stack.api.url,
    )
    assert outcome == "TypeError"


def test_the_key_set_is_readable_from_the_demo_origin(demo_page: DemoPage) -> None:
    """The control of the test above: the same fetch from the allowed origin reads the keys."""
    demo_page.open()
    outcome = demo_page.page.evaluate(
        """async (api) => {
            const response = await fetch(`${api}/v1/jwks.json`);
            const keys = (await response.json()).keys;
            return [response.status, keys.length, keys[0].alg, keys[0].crv];
        }""",
        demo_page.stack.api.url,
    )
    assert outcome == [200, 1, "ES256", "P-256"]
