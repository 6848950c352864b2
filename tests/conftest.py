"""Fixtures every test folder may use."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

# America/Los_Angeles as a POSIX rule (UTC-8, UTC-7 in summer): no tz database needed.
LOS_ANGELES = "PST8PDT,M3.2.0,M11.1.0"


@pytest.fixture
def outside_utc() -> Iterator[None]:
    """The process's local time is Los Angeles for one test, so a local-time bug shows.

    The machines that run the suite are often in UTC, where local time and UTC agree.
    """
    previous = os.environ.get("TZ")
    os.environ["TZ"] = LOS_ANGELES
    time.tzset()
    try:
        # Guard: the zone took effect (a UTC process would hide what the test looks for).
        assert time.localtime(0).tm_hour == 16
        yield
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()
