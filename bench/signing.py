"""What a correct PIN's verification token costs, and the KMS calls per kind of request.

Run by bench/run.py as `python -m bench.signing OUT.json BLOCKS` in a process of its own (it
sets the function's environment in os.environ and imports the handler). It starts moto (with
an ECC_NIST_P256 key) and the sandbox on 127.0.0.1 as `make run` does (local/dev.py), puts a
counting proxy in front of moto, and runs the real handler here:

1. correct PINs with token signing on and off, in alternating blocks (each a fresh execution
   environment whose first calls are not measured): the difference of the medians is the cost;
2. KMS requests counted at the proxy: per correct PIN, and for status-only lookups and wrong
   PINs (which must make none).

moto answers on loopback in about a millisecond; real KMS adds its in-region round trip.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from bench.common import MAX_CODE_ATTEMPTS, MAX_CODE_CHECKS, summarise, write_json
from bench.scenarios import WARM, Scenario
from local.aws_proxy import AwsProxy
from local.dev import local_stack
from local.lambda_runtime import LocalContext, ensure_functions_on_path

SIGN: Final = "TrentService.Sign"
GET_PUBLIC_KEY: Final = "TrentService.GetPublicKey"
PER_BLOCK: Final = 50
BY_NAME: Final = {s.name: s for s in WARM}


@contextlib.contextmanager
def _function_output_discarded() -> Iterator[None]:
    """The function's log lines and EMF metrics go nowhere while measuring."""
    from telephone_status.observability import logger  # noqa: PLC0415 (after path setup)

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous, handler.stream = handler.stream, io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        handler.stream = previous


def measure(blocks: int) -> dict[str, Any]:
    os.environ["MAX_CODE_CHECKS"] = str(MAX_CODE_CHECKS)  # local_stack leaves it as it finds it
    with contextlib.ExitStack() as running:
        running.enter_context(
            local_stack(external_upstream=False, max_code_attempts=str(MAX_CODE_ATTEMPTS))
        )
        key_id = os.environ["TOKEN_SIGNING_KEY_ID"]
        proxy = running.enter_context(AwsProxy(os.environ["AWS_ENDPOINT_URL"]))
        os.environ["AWS_ENDPOINT_URL"] = proxy.url
        ensure_functions_on_path()
        from telephone_status import service  # noqa: PLC0415
        from telephone_status.handler import lambda_handler  # noqa: PLC0415

        running.enter_context(_function_output_discarded())
        calls = itertools.count()

        def invoke(scenario: Scenario) -> tuple[float, dict[str, Any]]:
            i = next(calls)
            event = scenario.request(i).event()
            started = time.perf_counter()
            result = lambda_handler(event, LocalContext(10.0))
            elapsed = (time.perf_counter() - started) * 1000
            body = json.loads(result["body"])
            if result["statusCode"] != scenario.status or not scenario.check(i, body):
                raise RuntimeError(f"{scenario.name}: {result['statusCode']} {result['body']}")
            return elapsed, body

        def environment(*, signing: bool) -> None:
            os.environ.pop("TOKEN_SIGNING_KEY_ID", None)
            os.environ.update({"TOKEN_SIGNING_KEY_ID": key_id} if signing else {})
            service.reset_cold_start_state()
            for _ in range(2):  # the first calls build clients and fetch the key
                invoke(BY_NAME["POST PIN correct"])

        samples: dict[str, list[float]] = {"signed": [], "unsigned": []}
        for block in range(blocks):
            for arm in ("signed", "unsigned") if block % 2 == 0 else ("unsigned", "signed"):
                environment(signing=arm == "signed")
                for _ in range(PER_BLOCK):
                    elapsed, body = invoke(BY_NAME["POST PIN correct"])
                    if (body["verification"] is not None) != (arm == "signed"):
                        raise RuntimeError(f"{arm}: verification {body['verification']}")
                    samples[arm].append(elapsed)

        environment(signing=True)
        proxy.reset()
        for _ in range(PER_BLOCK):
            invoke(BY_NAME["GET status-only"])
            invoke(BY_NAME["POST PIN wrong"])
        without_correct_pin = proxy.count(SIGN) + proxy.count(GET_PUBLIC_KEY)
        proxy.reset()
        for _ in range(PER_BLOCK):
            invoke(BY_NAME["POST PIN correct"])
        signs_per_correct_pin = proxy.count(SIGN) / PER_BLOCK
    return {
        "signed_ms": summarise(samples["signed"]),
        "unsigned_ms": summarise(samples["unsigned"]),
        "cost_p50_ms": round(
            statistics.median(samples["signed"]) - statistics.median(samples["unsigned"]), 3
        ),
        "kms_sign_per_correct_pin": signs_per_correct_pin,
        "kms_calls_status_only_and_wrong_pin": without_correct_pin,
    }


if __name__ == "__main__":
    write_json(Path(sys.argv[1]), measure(int(sys.argv[2])))
