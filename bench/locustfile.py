"""Locust tasks for `make load` (bench/load.py runs Locust headless with this file).

One task per row of bench/scenarios.py with a load weight, weighted by it; each request
expects its row's one status, anything else is a Locust failure (an unexpected outcome).
The run stops itself after LOAD_REQUESTS requests; Locust bounds users and time.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Final

import gevent  # type: ignore[import-untyped]
from locust import HttpUser, constant
from locust.exception import StopUser
from locust.stats import CSV_STATS_INTERVAL_SEC

from bench.scenarios import SCENARIOS, Scenario

REQUEST_LIMIT: Final = int(os.environ.get("LOAD_REQUESTS", "3000"))
# Counters shared by every user of this process (users are greenlets: no lock needed).
_sent, _answered = itertools.count(1), itertools.count(1)


def _task(scenario: Scenario) -> Callable[[HttpUser], None]:
    indexes = itertools.count()

    def send(user: HttpUser) -> None:
        if next(_sent) > REQUEST_LIMIT:
            raise StopUser
        request = scenario.request(next(indexes))
        try:
            with user.client.request(
                request.method,
                request.path,
                name=scenario.name,
                catch_response=True,
                params=dict(request.query),
                headers=dict(request.headers),
                data=request.body,
            ) as response:
                if response.status_code == scenario.status:
                    response.success()
                else:
                    response.failure(f"HTTP {response.status_code}, expected {scenario.status}")
        finally:
            if next(_answered) == REQUEST_LIMIT:
                # Quit from a greenlet of its own, once Locust's CSV writer (every
                # CSV_STATS_INTERVAL_SEC, not at quit) has written the final totals.
                gevent.spawn_later(CSV_STATS_INTERVAL_SEC + 0.5, user.environment.runner.quit)

    return send


class ApiClient(HttpUser):
    wait_time = constant(0)
    # Locust takes {task: weight} too (its annotation names only the list form).
    tasks = {_task(s): s.load_weight for s in SCENARIOS if s.load_weight}  # type: ignore[assignment]  # noqa: RUF012
