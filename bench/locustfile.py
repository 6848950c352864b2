"""Locust scenarios for `make load` (bench/load.py runs Locust headless with this file).

The same mix as before Locust: 50% status-only GET lookups, 40% PIN checks (POST JSON and
form, right and wrong PINs), 10% bad input (unknown reference ids: 404; malformed requests:
400). Every request states the one status it must get; anything else is a Locust failure,
counted as an unexpected outcome. The run stops itself after LOAD_REQUESTS requests (Locust
bounds users and time on the command line; this bounds the count).
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any, Final
from urllib.parse import urlencode

import gevent  # type: ignore[import-untyped]
from locust import HttpUser, constant, task
from locust.exception import StopUser
from locust.stats import CSV_STATS_INTERVAL_SEC

from local.lambda_runtime import API_PATH
from local.sandbox import PIN, VENDOR_REFERENCE, status_reference

WRONG_PIN: Final = "54321"
STATUS_REFERENCES: Final = tuple(status_reference(code) for code in range(100, 1000, 7))
CODE_REFERENCES: Final = (VENDOR_REFERENCE, *(status_reference(c) for c in range(100, 200)))
REQUEST_LIMIT: Final = int(os.environ.get("LOAD_REQUESTS", "3000"))
# One counter for all users of this process (Locust users are greenlets: no lock needed).
_sent = itertools.count(1)
_answered = itertools.count(1)


class ApiClient(HttpUser):
    wait_time = constant(0)

    def _send(self, name: str, expected: int, method: str, **kwargs: Any) -> None:
        if next(_sent) > REQUEST_LIMIT:
            raise StopUser
        try:
            with self.client.request(
                method, API_PATH, name=name, catch_response=True, **kwargs
            ) as response:
                if response.status_code == expected:
                    response.success()
                else:
                    response.failure(f"HTTP {response.status_code}, expected {expected}")
        finally:
            if next(_answered) == REQUEST_LIMIT:
                # The last answer is in: end the run, from its own greenlet (quitting stops
                # every user, this one included), after Locust's CSV writer, which writes
                # every CSV_STATS_INTERVAL_SEC and not at quit, has written the final totals.
                gevent.spawn_later(CSV_STATS_INTERVAL_SEC + 0.5, self.environment.runner.quit)

    @task(10)
    def status_only(self) -> None:
        index = next(_sent_status)
        reference = STATUS_REFERENCES[index % len(STATUS_REFERENCES)]
        # Lower-case ids half of the time: the API accepts either case.
        reference = reference if index % 2 else reference.lower()
        self._send("GET status-only", 200, "GET", params={"referenceId": reference})

    @task(6)
    def pin_check_json(self) -> None:
        reference, pin = _next_pin_check()
        body = json.dumps({"referenceId": reference, "code": pin})
        headers = {"Content-Type": "application/json"}
        self._send("POST PIN check (JSON)", 200, "POST", data=body, headers=headers)

    @task(2)
    def pin_check_form(self) -> None:
        reference, pin = _next_pin_check()
        body = urlencode({"referenceid": reference, "code": pin})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self._send("POST PIN check (form)", 200, "POST", data=body, headers=headers)

    @task(1)
    def unknown_reference(self) -> None:
        unknown = f"{next(_sent_unknown):032X}".replace("0", "E")  # unknown to the sandbox
        body = json.dumps({"referenceId": unknown})
        headers = {"Content-Type": "application/json"}
        self._send("POST unknown id (404)", 404, "POST", data=body, headers=headers)

    @task(1)
    def bad_input(self) -> None:
        index = next(_sent_bad)
        bodies = (
            ('{"referenceId": ', "application/json"),  # truncated JSON
            ('{"code": "12345"}', "application/json"),  # no referenceId
            ("referenceid=ABC&referenceid=DEF", "application/x-www-form-urlencoded"),
        )
        body, content_type = bodies[index % len(bodies)]
        headers = {"Content-Type": content_type}
        self._send("POST bad input (400)", 400, "POST", data=body, headers=headers)


_sent_status = itertools.count()
_sent_unknown = itertools.count(1)
_sent_bad = itertools.count()
_pin_checks = itertools.count()


def _next_pin_check() -> tuple[str, str]:
    # Spread over 101 ids (bench/load.py raises MAX_CODE_ATTEMPTS and MAX_CODE_CHECKS to their
    # maxima): none reaches a limit, so a 429 here is a failure, never a measurement.
    index = next(_pin_checks)
    reference = CODE_REFERENCES[index % len(CODE_REFERENCES)]
    return reference, PIN if index % 3 == 0 else WRONG_PIN
