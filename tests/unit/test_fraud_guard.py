"""The fraud guard's window arithmetic: when one more send fits (the writes are tested
against the table in tests/integration/test_start_verification.py)."""

from __future__ import annotations

import pytest
from telephone_status.fraud_guard import DAY, HOUR, FraudGuard, _Window

PHONE = _Window("phone", max_sends=5, seconds=HOUR, min_interval=30, keep_seconds=HOUR)
PREFIX = _Window("prefix", max_sends=2, seconds=DAY, min_interval=0, keep_seconds=DAY)
NOW = 1_800_000_000


def test_room_and_old_enough_means_now() -> None:
    assert FraudGuard._wait(PHONE, [NOW - 100], NOW - 100, NOW) == 0


def test_interval_decides() -> None:
    assert FraudGuard._wait(PHONE, [NOW - 10], NOW - 10, NOW) == 20
    assert FraudGuard._wait(PHONE, [NOW - 30], NOW - 30, NOW) == 0


def test_full_window_waits_for_its_oldest_send_to_leave() -> None:
    sends = [NOW - 3000, NOW - 2000, NOW - 1000, NOW - 500, NOW - 100]
    assert FraudGuard._wait(PHONE, sends, sends[-1], NOW) == 600


def test_the_later_of_both_rules() -> None:
    sends = [NOW - 3590, NOW - 2000, NOW - 1000, NOW - 500, NOW - 5]
    assert FraudGuard._wait(PHONE, sends, sends[-1], NOW) == 25


@pytest.mark.parametrize("extra", [0, 1, 3])
def test_more_sends_than_allowed_wait_for_the_right_one(extra: int) -> None:
    # After the limit was lowered, more sends than allowed may be in the window.
    sends = [NOW - 80_000 + i * 1000 for i in range(2 + extra)]
    wait = FraudGuard._wait(PREFIX, sends, sends[-1], NOW)
    assert wait == sends[extra] + DAY - NOW


def test_no_interval_for_a_range() -> None:
    assert FraudGuard._wait(PREFIX, [NOW], NOW, NOW) == 0
