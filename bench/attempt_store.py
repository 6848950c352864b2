"""moto's own time for the attempt store's UpdateItem, version 1's request against version 2's.

`python -m bench.attempt_store [--pairs N]` starts moto on 127.0.0.1 and sends, interleaved in
alternating order, v1's one-counter UpdateItem and v2's (the function's REGISTER_UPDATE and
REGISTER_CONDITION with the same values and return options as bench/warm.py's reference),
each on items of its own, as raw unsigned POSTs on a kept-alive connection. It shows how much
of a code check's time after the v2 merge is the emulator evaluating the new expression, which
is why the warm bench's reference must send the same request as the function. Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

import urllib3

from bench.common import MAX_CODE_ATTEMPTS, MAX_CODE_CHECKS, TABLE_NAME, summarise
from bench.servers import start_bench_moto
from bench.warm import UPDATE_ITEM_HEADERS

WINDOW_SECONDS: Final = 86400
V1_UPDATE: Final = "ADD attempts :one SET expiresAt = if_not_exists(expiresAt, :e)"
V1_CONDITION: Final = "attribute_not_exists(expiresAt) OR expiresAt > :now"


def v1_request(index: int, now: int) -> dict[str, Any]:
    return {
        "TableName": TABLE_NAME,
        "Key": {"referenceId": {"S": f"V1{index % 100:030d}"}},
        "UpdateExpression": V1_UPDATE,
        "ConditionExpression": V1_CONDITION,
        "ExpressionAttributeValues": {
            ":one": {"N": "1"},
            ":e": {"N": str(now + WINDOW_SECONDS)},
            ":now": {"N": str(now)},
        },
        "ReturnValues": "UPDATED_NEW",
    }


def v2_request(update: str, condition: str) -> Callable[[int, int], dict[str, Any]]:
    def build(index: int, now: int) -> dict[str, Any]:
        guess = hashlib.sha256(f"pin-{index % 200}".encode()).hexdigest()
        return {
            "TableName": TABLE_NAME,
            "Key": {"referenceId": {"S": f"V2{index % 100:030d}"}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {
                ":guess": {"SS": [guess]},
                ":guessValue": {"S": guess},
                ":one": {"N": "1"},
                ":expires": {"N": str(now + WINDOW_SECONDS)},
                ":now": {"N": str(now)},
                ":maxChecks": {"N": str(MAX_CODE_CHECKS)},
                ":maxAttempts": {"N": str(MAX_CODE_ATTEMPTS)},
            },
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    return build


def measure(pairs: int, warmup: int) -> dict[str, Any]:
    from bench.common import use_function_tree  # noqa: PLC0415

    use_function_tree()
    from telephone_status.attempts import REGISTER_CONDITION, REGISTER_UPDATE  # noqa: PLC0415

    builders = {"v1": v1_request, "v2": v2_request(REGISTER_UPDATE, REGISTER_CONDITION)}
    samples: dict[str, list[float]] = {name: [] for name in builders}
    moto = start_bench_moto()
    try:
        endpoint = urlsplit(moto.endpoint_url)
        pool = urllib3.HTTPConnectionPool(
            endpoint.hostname or "127.0.0.1", endpoint.port, maxsize=1, retries=False
        )
        for index in range(warmup + pairs):
            order = ("v1", "v2") if index % 2 else ("v2", "v1")
            for name in order:
                body = json.dumps(builders[name](index, int(time.time()))).encode()
                started = time.perf_counter()
                response = pool.request(
                    "POST",
                    "/",
                    body=body,
                    headers=UPDATE_ITEM_HEADERS,
                )
                elapsed = (time.perf_counter() - started) * 1000
                if response.status != 200:
                    raise RuntimeError(f"{name} UpdateItem: HTTP {response.status}")
                if index >= warmup:
                    samples[name].append(elapsed)
        pool.close()
    finally:
        moto.stop()
    return {
        "pairs": pairs,
        "v1_ms": summarise(samples["v1"]),
        "v2_ms": summarise(samples["v2"]),
        "difference_p50_ms": round(
            statistics.median(samples["v2"]) - statistics.median(samples["v1"]), 3
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=900, help="measured pairs (900)")
    parser.add_argument("--warmup", type=int, default=100, help="discarded pairs (100)")
    args = parser.parse_args(argv)
    result = measure(args.pairs, args.warmup)
    for name in ("v1", "v2"):
        stats = result[f"{name}_ms"]
        print(
            f"{name} UpdateItem in moto: p50 {stats['p50']:.3f}  p90 {stats['p90']:.3f}  "
            f"p99 {stats['p99']:.3f} ms  (n={stats['n']})"
        )
    print(f"v2 - v1 at p50: {result['difference_p50_ms']:+.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
