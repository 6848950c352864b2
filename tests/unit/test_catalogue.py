"""SPEC §4 status table and the upstream reference's published and inferred codes."""

from __future__ import annotations

import pytest
from telephone_status.catalogue import channel_of, description_of, state_of

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
