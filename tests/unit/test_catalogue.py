"""SPEC §4 status table and the upstream reference's published and inferred codes."""

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

# (code, channel, state, short description) exactly as SPEC §4 and the upstream table give them.
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


def test_spec_state_lists_match_the_published_table() -> None:
    """SPEC §4 lists the states by code; the table above must agree with it."""
    by_state: dict[str, set[int]] = {}
    for code, _, state, _ in PUBLISHED:
        by_state.setdefault(state, set()).add(code)
    assert by_state == {
        "delivered": {100, 200},
        "pending": {103, 105, 203},
        "failed": {101, 106, 107, 108, 129, 130, 207, 210, 211, 220, 221, 222},
    }


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


# --- status.final and status.retryable (SPEC §4) -------------------------------------------
# The SPEC's two retryable lists, written out here (not imported) so that a slip in the
# catalogue's data shows up as a difference.
SPEC_RETRY_MAY_HELP = {101, 102, 106, 107, 108, 207, 210, 221, 503, 505}
SPEC_RETRY_WONT_HELP = {
    104, 129, 130, 211, 220, 222,
    229, 230, 231, 232, 233, 234, 235, 236, 237, 238,
    504, 506, 507, 510, 511, 512, 513, 514, 515, 518, 519,
}  # fmt: skip


@pytest.mark.parametrize("code", range(1000))
def test_final_and_retryable_for_every_code(code: int) -> None:
    state = state_of(code)
    assert is_final(code) is (state in ("delivered", "failed"))
    expected: bool | None = None
    if state == "failed":
        listed = code in SPEC_RETRY_MAY_HELP | SPEC_RETRY_WONT_HELP
        expected = (code in SPEC_RETRY_MAY_HELP) if listed else None
    assert retryable_of(code) is expected


def test_every_failed_code_says_whether_a_retry_can_help() -> None:
    failed = {code for code in range(1000) if state_of(code) == "failed"}
    assert failed, "guard: the catalogue has failed codes"
    assert {code for code in failed if retryable_of(code) is None} == set()
    assert failed <= SPEC_RETRY_MAY_HELP | SPEC_RETRY_WONT_HELP


@pytest.mark.parametrize("code", [232, 234, 235, 236])
def test_codes_inside_229_to_238_that_are_not_failed_have_no_retryable(code: int) -> None:
    """229-238 is listed as "won't help", but only for codes in the failed state."""
    assert state_of(code) == "unknown"
    assert is_final(code) is False
    assert retryable_of(code) is None


@pytest.mark.parametrize(
    ("code", "final", "retryable"),
    [(100, True, None), (200, True, None), (103, False, None), (203, False, None),
     (101, True, True), (211, True, False), (229, True, False), (505, True, True),
     (504, True, False), (250, False, None), (599, False, None), (0, False, None),
     (999, False, None)],
)  # fmt: skip
def test_final_and_retryable_examples(code: int, final: bool, retryable: bool | None) -> None:
    assert (is_final(code), retryable_of(code)) == (final, retryable)


@pytest.mark.parametrize("code", range(1000))
def test_the_status_body_carries_final_and_retryable(code: int) -> None:
    body = StatusBody(
        code=code, channel=channel_of(code), state=state_of(code), description=description_of(code)
    )
    dumped = body.model_dump()
    assert (dumped["final"], dumped["retryable"]) == (is_final(code), retryable_of(code))
