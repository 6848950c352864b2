"""Worker: warm per-invocation timings of our handler and the baseline, interleaved A/B.

Run by bench/run.py as `python -m bench.warm OUT.json ITERATIONS WARMUP [--ours-only]`, with
stdout sent to /dev/null (Logger and Metrics write their JSON lines there, so
their formatting cost is measured but no terminal I/O is).

Each iteration, in an order that rotates through all 24 permutations so that
ordering effects cancel, measures four things on the same machine state:

- our `lambda_handler` with a fresh REST event and LocalContext,
- the baseline `lambda_handler` with an equivalent event,
- a bare upstream round trip: a keep-alive urllib3 POST of the same form to
  the sandbox (what any client must pay at least),
- on code-check iterations, a bare attempt-store round trip: a raw UpdateItem
  POST to moto with the same request as ours (the function's REGISTER_UPDATE and
  REGISTER_CONDITION, the same values and return options, a 64-hex guess hash), on
  an item of its own: what a code check must pay at least, on top.

Code checks alternate between the right PIN and a wrong one (bench.common.variant_of);
every answer is checked (status 200, the status code and `codeValid` expected), and any
other answer, a 429 included, stops the run with the answer in the error.

Both wall time (perf_counter_ns) and CPU time of this process (process_time_ns)
are recorded; the servers run in other processes, so CPU time is the work the
code under test itself does, free of the emulator's jitter.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import urllib3

from bench.common import (
    MAX_CODE_ATTEMPTS,
    MAX_CODE_CHECKS,
    PIN,
    SANDBOX_KEY,
    TABLE_NAME,
    build_event,
    kind_of,
    request_fields,
    use_function_tree,
    variant_of,
    write_json,
)

FAKE_SIGV4: Final = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0"  # moto does not verify it
)
# A bare DynamoDB UpdateItem request, as botocore would send it (moto does not check the date).
UPDATE_ITEM_HEADERS: Final = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "DynamoDB_20120810.UpdateItem",
    "X-Amz-Date": "20260101T000000Z",
    "Authorization": FAKE_SIGV4,
}
NAMES: Final = ("ours", "baseline", "bare_upstream", "bare_attempts")


def expected_status(reference_id: str) -> int:
    return 100 if not reference_id.startswith("0" * 29) else int(reference_id[-3:])


class BareClients:
    """The irreducible network cost: keep-alive pools straight to the servers."""

    def __init__(self, sandbox_url: str, moto_url: str, update: str, condition: str) -> None:
        self._update = update
        self._condition = condition
        sandbox = urlsplit(sandbox_url)
        moto = urlsplit(moto_url)
        self._sandbox = urllib3.HTTPConnectionPool(
            sandbox.hostname or "127.0.0.1", sandbox.port, maxsize=1, retries=False
        )
        self._moto = urllib3.HTTPConnectionPool(
            moto.hostname or "127.0.0.1", moto.port, maxsize=1, retries=False
        )

    def upstream(self, reference_id: str, code: str | None) -> None:
        fields = {"key": SANDBOX_KEY, "referenceid": reference_id}
        if code is not None:
            fields["code"] = code
        response = self._sandbox.request(
            "POST",
            "/telephonestatus.json",
            body=urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if response.status != 200 or b'"status"' not in response.data:
            raise RuntimeError(f"bare upstream request failed: HTTP {response.status}")

    def attempts(self, reference_id: str, code: str) -> None:
        now = int(time.time())
        # The function's request, field for field; only the key (an item of its own) and
        # the guess (an unkeyed stand-in of the same length) differ.
        guess = hashlib.sha256(f"bare:{reference_id}:{code}".encode()).hexdigest()
        body = json.dumps(
            {
                "TableName": TABLE_NAME,
                "Key": {"referenceId": {"S": "BARE" + reference_id[4:]}},
                "UpdateExpression": self._update,
                "ConditionExpression": self._condition,
                "ExpressionAttributeValues": {
                    ":guess": {"SS": [guess]},
                    ":guessValue": {"S": guess},
                    ":one": {"N": "1"},
                    ":expires": {"N": str(now + 86400)},
                    ":now": {"N": str(now)},
                    ":maxChecks": {"N": str(MAX_CODE_CHECKS)},
                    ":maxAttempts": {"N": str(MAX_CODE_ATTEMPTS)},
                },
                "ReturnValues": "ALL_NEW",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        ).encode()
        response = self._moto.request(
            "POST",
            "/",
            body=body,
            headers=UPDATE_ITEM_HEADERS,
        )
        if response.status != 200 or b"checks" not in response.data:
            raise RuntimeError(f"bare attempt-store request failed: HTTP {response.status}")


def expected_code_valid(code: str | None) -> bool | None:
    return None if code is None else code == PIN


def check_ours(result: dict[str, Any], reference_id: str, code: str | None) -> None:
    body = json.loads(result["body"]) if result["statusCode"] == 200 else {}
    if (
        result["statusCode"] != 200
        or body["status"]["code"] != expected_status(reference_id)
        or body["codeValid"] != expected_code_valid(code)
    ):
        raise RuntimeError(f"our handler answered {result['statusCode']}: {result['body']}")


def check_baseline(result: dict[str, Any], reference_id: str, code: str | None) -> None:
    body = json.loads(result["body"]) if result["statusCode"] == 200 else {}
    if (
        result["statusCode"] != 200
        or int(body["status"]) != expected_status(reference_id)
        or body["codeValid"] != expected_code_valid(code)
    ):
        raise RuntimeError(f"the baseline answered {result['statusCode']}: {result['body']}")


def run(iterations: int, warmup: int, *, ours_only: bool = False) -> dict[str, Any]:
    use_function_tree()
    from telephone_status.attempts import REGISTER_CONDITION, REGISTER_UPDATE  # noqa: PLC0415
    from telephone_status.handler import lambda_handler as ours  # noqa: PLC0415

    from bench.baseline import lambda_handler as baseline  # noqa: PLC0415
    from local.lambda_runtime import LocalContext  # noqa: PLC0415 (after the sys.path setup)

    bare = BareClients(
        os.environ["BENCH_SANDBOX_URL"],
        os.environ["BENCH_MOTO_URL"],
        REGISTER_UPDATE,
        REGISTER_CONDITION,
    )
    orders = list(itertools.permutations(range(len(NAMES))))
    wall: dict[str, list[float]] = {name: [] for name in NAMES}
    cpu: dict[str, list[float]] = {name: [] for name in NAMES}
    kinds: list[str] = []
    variants: list[str] = []

    for index in range(warmup + iterations):
        reference_id, code = request_fields(index)
        our_event, base_event = build_event(index), build_event(index)
        our_context, base_context = LocalContext(10.0), LocalContext(10.0)
        results: dict[str, Any] = {}
        calls: tuple[Callable[[], Any], ...] = (
            functools.partial(ours, our_event, our_context),
            functools.partial(baseline, base_event, base_context),
            functools.partial(bare.upstream, reference_id, code),
            functools.partial(bare.attempts, reference_id, code or ""),
        )
        measured = index >= warmup
        for which in orders[index % len(orders)]:
            if NAMES[which] == "bare_attempts" and code is None:
                continue  # status-only lookups never touch the attempt store
            if NAMES[which] == "baseline" and ours_only:
                continue
            cpu0 = time.process_time_ns()
            wall0 = time.perf_counter_ns()
            results[NAMES[which]] = calls[which]()
            wall1 = time.perf_counter_ns()
            cpu1 = time.process_time_ns()
            if measured:
                wall[NAMES[which]].append((wall1 - wall0) / 1e6)
                cpu[NAMES[which]].append((cpu1 - cpu0) / 1e6)
        check_ours(results["ours"], reference_id, code)
        if not ours_only:
            check_baseline(results["baseline"], reference_id, code)
        if measured:
            kinds.append(kind_of(index))
            variants.append(variant_of(index))
    return {
        "iterations": iterations,
        "warmup": warmup,
        "kinds": kinds,
        "variants": variants,
        "wall": wall,
        "cpu": cpu,
    }


def main(argv: list[str]) -> int:
    out, iterations, warmup = Path(argv[0]), int(argv[1]), int(argv[2])
    write_json(out, run(iterations, warmup, ours_only="--ours-only" in argv[3:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
