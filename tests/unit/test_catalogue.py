"""The status table: published and inferred codes, channel, state, final and retryable.

The published table and the retry lists are in docs/api.md#success-response; the inferred
codes in docs/upstream.md. Every code is written out here (not imported), so a slip in the
catalogue's data shows up as a difference.
"""

from __future__ import annotations

import pytest
from telephone_status.catalogue import (
    channel_of,
    description_of,
    is_final,
    retryable_of,
    state_of,
)
from telephone_status.models import StatusBody

# (code, channel, state, short description) exactly as the published table gives them.
PUBLISHED = [
    (100, "call", "delivered", "Call answered"),
    (101, "call", "failed", "Not answered"),
    (103, "call", "pending", "Call in progress"),
    (105, "call", "pending", "Call not handled yet"),
    (106, "call", "failed", "Call failed"),
    (107, "call", "failed", "Line busy"),
    (108, "call", "failed", "Call canceled"),
    (129, "call", "failed", "Call blocked by customer request"),
    (130, "call", "failed", "Call blocked"),
    (200, "sms", "delivered", "Delivered to handset"),
    (203, "sms", "pending", "Delivered to gateway"),
    (207, "sms", "failed", "Error delivering SMS to handset (reason unknown)"),
    (210, "sms", "failed", "Temporary phone error"),
    (211, "sms", "failed", "Permanent phone error"),
    (220, "sms", "failed", "Gateway/network cannot route message"),
    (221, "sms", "failed", "Message expired before delivery"),
    (222, "sms", "failed", "SMS not supported"),
]

# The "likely further codes" table of the upstream reference: a state, no description.
INFERRED = [
    (102, "failed"),
    (104, "failed"),
    *[(code, "failed") for code in (229, 230, 231, 233, 237, 238)],
    (250, "unknown"),
    (251, "unknown"),
    *[(code, "pending") for code in (290, 291, 292, 295)],
    *[(code, "failed") for code in (503, 504, 505, 506, 507, 510, 511, 512, 513, 514, 515)],
    (518, "failed"),
    (519, "failed"),
    (599, "unknown"),
]

# Neither published nor inferred: the gaps around and inside the inferred ranges included.
UNKNOWN = [
    0,
    1,
    99,
    109,
    128,
    131,
    150,
    199,
    201,
    202,
    204,
    223,
    228,
    232,
    234,
    239,
    249,
    252,
    289,
    293,
    294,
    296,
    299,
    300,
    404,
    500,
    502,
    508,
    509,
    516,
    517,
    520,
    598,
    600,
    999,
]


@pytest.mark.parametrize(("code", "channel", "state", "description"), PUBLISHED)
def test_published_codes(code: int, channel: str, state: str, description: str) -> None:
    assert (channel_of(code), state_of(code), description_of(code)) == (
        channel,
        state,
        description,
    )


@pytest.mark.parametrize(("code", "state"), INFERRED)
def test_inferred_codes_take_the_state_the_reference_suggests(code: int, state: str) -> None:
    assert state_of(code) == state
    assert description_of(code) is None
    assert channel_of(code) == {1: "call", 2: "sms"}.get(code // 100, "unknown")


@pytest.mark.parametrize("code", UNKNOWN)
def test_unknown_codes_are_passed_on_as_unknown(code: int) -> None:
    assert state_of(code) == "unknown"
    assert description_of(code) is None


@pytest.mark.parametrize(
    ("code", "channel"),
    [
        (100, "call"),
        (150, "call"),
        (199, "call"),
        (200, "sms"),
        (250, "sms"),
        (299, "sms"),
        (0, "unknown"),
        (99, "unknown"),
        (300, "unknown"),
        (503, "unknown"),
        (599, "unknown"),
        (999, "unknown"),
    ],
)
def test_channel_is_given_by_the_first_digit(code: int, channel: str) -> None:
    assert channel_of(code) == channel


# --- status.final and status.retryable ----------------------------------------------------
# Every failed code of the catalogue and whether a new call/SMS may help, as published.
RETRY_MAY_HELP = [101, 102, 106, 107, 108, 207, 210, 221, 503, 505]
RETRY_WONT_HELP = [
    104, 129, 130, 211, 220, 222, 229, 230, 231, 233, 237, 238,
    504, 506, 507, 510, 511, 512, 513, 514, 515, 518, 519,
]  # fmt: skip
FAILED = {code for code, _, state, _ in PUBLISHED if state == "failed"} | {
    code for code, state in INFERRED if state == "failed"
}


def test_the_retry_lists_name_every_failed_code_once() -> None:
    """Guard on the tables above: each failed code is in exactly one retry list."""
    assert sorted(RETRY_MAY_HELP + RETRY_WONT_HELP) == sorted(FAILED)


@pytest.mark.parametrize("code", RETRY_MAY_HELP)
def test_failed_codes_where_a_retry_may_help(code: int) -> None:
    assert (is_final(code), retryable_of(code)) == (True, True)


@pytest.mark.parametrize("code", RETRY_WONT_HELP)
def test_failed_codes_where_a_retry_will_not_help(code: int) -> None:
    assert (is_final(code), retryable_of(code)) == (True, False)


@pytest.mark.parametrize(
    "code",
    sorted({code for code, _, state, _ in PUBLISHED if state != "failed"}
           | {code for code, state in INFERRED if state != "failed"}
           | set(UNKNOWN)),
)  # fmt: skip
def test_codes_that_are_not_failed_have_no_retryable(code: int) -> None:
    """Delivered is final; pending and unknown are not. None of them says whether to retry."""
    assert is_final(code) is (state_of(code) == "delivered")
    assert retryable_of(code) is None


@pytest.mark.parametrize("code", [232, 234, 235, 236])
def test_codes_inside_229_to_238_that_are_not_failed_have_no_retryable(code: int) -> None:
    """229-238 is listed as "won't help", but only for codes in the failed state."""
    assert state_of(code) == "unknown"
    assert is_final(code) is False
    assert retryable_of(code) is None


@pytest.mark.parametrize(
    ("code", "final", "retryable"),
    [(100, True, None), (101, True, True), (211, True, False), (203, False, None),
     (599, False, None), (999, False, None)],
)  # fmt: skip
def test_the_status_body_carries_final_and_retryable(
    code: int, final: bool, retryable: bool | None
) -> None:
    body = StatusBody(
        code=code, channel=channel_of(code), state=state_of(code), description=description_of(code)
    )
    dumped = body.model_dump()
    assert (dumped["final"], dumped["retryable"]) == (final, retryable)
