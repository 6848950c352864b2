"""Starting a verification from the page: POST /v1/verifications, cross-origin, in Chromium.

The page sends a PIN to a phone number, reads it from the sandbox inbox (as the phone would
have received it), checks a wrong one and then the right one, and verifies the token, which
names the phone number. Refused starts show the problem the API answered.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.support import START_PATH, DemoPage

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

# Valid US numbers (libphonenumber), outside the fictional 555-01xx range that test numbers use.
SMS_NUMBER = "+12015550342"
CALL_NUMBER = "+12015550343"
RESEND_NUMBER = "+12015550344"
PREMIUM_RATE_NUMBER = "+19005550199"
FRENCH_MOBILE = "+33612345678"  # valid, but FR is not among the allowed countries


def test_start_by_sms_then_the_pin_from_the_inbox_wrong_then_right(demo_page: DemoPage) -> None:
    stack = demo_page.stack
    demo_page.open()
    demo_page.start(SMS_NUMBER, "sms")
    assert demo_page.state == "started", demo_page.error()
    started = demo_page.started()
    reference = started["referenceId"]
    assert re.fullmatch(r"[0-9A-F]{32}", reference)
    assert started["channel"] == "sms"
    assert started["phoneNumber"] == "+1******0342"
    assert demo_page.page.input_value("#reference") == reference
    assert demo_page.page.inner_text("#inbox-link") == (
        f"{stack.sandbox_url}/inbox?phoneNumber=%2B12015550342"
    )
    # A JSON POST from another origin: preflighted, then granted to this origin.
    served = stack.served(origin=stack.origin, path=START_PATH)
    assert [(s.method, s.status, s.allow_origin) for s in served] == [
        ("OPTIONS", 204, stack.origin),
        ("POST", 201, stack.origin),
    ]
    demo_page.screenshot("06-started")

    pin = demo_page.fill_pin_from_inbox()
    assert re.fullmatch(r"[1-9][0-9]{3,4}", pin)
    demo_page.check_pin(reference, "10000" if pin != "10000" else "10001")
    assert demo_page.state == "checked"
    assert demo_page.result()["codeValid"] == "false"

    assert demo_page.fill_pin_from_inbox() == pin
    demo_page.submit_check()
    assert demo_page.state == "verified", demo_page.error()
    verified, verdict = demo_page.token_verdict()
    assert verified, verdict
    claims = demo_page.token_claims()["claims"]
    assert claims["sub"] == reference
    assert claims["phone_number"] == SMS_NUMBER
    assert claims["channel"] == "sms"
    assert pin not in demo_page.page.url
    demo_page.screenshot("07-started-and-verified")


def test_start_by_call_with_a_voice_language(demo_page: DemoPage) -> None:
    demo_page.open()
    demo_page.start(CALL_NUMBER, "call", locale="es")
    assert demo_page.state == "started", demo_page.error()
    assert demo_page.started()["channel"] == "call"
    assert demo_page.started()["phoneNumber"] == "+1******0343"


def test_a_second_start_too_soon_is_a_429_counted_down(demo_page: DemoPage) -> None:
    demo_page.open()
    demo_page.start(RESEND_NUMBER, "sms")
    assert demo_page.state == "started", demo_page.error()
    demo_page.start(RESEND_NUMBER, "sms")
    assert demo_page.state == "error"
    assert demo_page.error()["code"] == "TOO_MANY_SENDS"
    retry_after = int(demo_page.page.inner_text("#retry-after"))
    assert 0 < retry_after <= 30  # the least interval between two sends
    assert demo_page.page.is_disabled("#start-button")


@pytest.mark.parametrize(
    ("number", "status", "code"),
    [
        (PREMIUM_RATE_NUMBER, "400", "INVALID_REQUEST"),
        (FRENCH_MOBILE, "403", "COUNTRY_NOT_ALLOWED"),
    ],
    ids=["premium-rate", "country-not-allowed"],
)
def test_a_refused_start_shows_the_problem(
    demo_page: DemoPage, number: str, status: str, code: str
) -> None:
    stack = demo_page.stack
    demo_page.open()
    demo_page.start(number, "sms")
    assert demo_page.state == "error"
    error = demo_page.error()
    assert (error["status"], error["code"]) == (status, code)
    if code == "INVALID_REQUEST":
        assert "error: phoneNumber" in error
    assert demo_page.started() == {}
    # Refused, but readable: the refusal carries this origin's grant.
    [*_, post] = stack.served(origin=stack.origin, path=START_PATH)
    assert (post.method, str(post.status), post.allow_origin) == ("POST", status, stack.origin)
    demo_page.screenshot(f"08-refused-{code.lower()}")
