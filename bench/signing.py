"""What a correct PIN costs for its verification token (issue 9), against the emulator.

`python -m bench.signing` starts moto (with an ECC_NIST_P256 key) and the ProxStop
sandbox on 127.0.0.1, puts a counting proxy in front of moto, and runs the real
handler in this process:

1. correct-PIN checks with token signing on and off, in alternating blocks (each
   block a fresh execution environment whose first two calls are not measured), so
   that drift hits both arms alike; the difference of the medians is the cost;
2. `TokenSigner.issue` alone (one `kms:Sign` round trip to moto plus encoding);
3. KMS requests counted at the proxy: per correct PIN, and for status-only
   lookups and wrong PINs (which must be zero), timing those two kinds too.

MAX_CODE_ATTEMPTS and MAX_CODE_CHECKS are at their maxima (bench.common): the wrong-PIN
loop repeats one PIN on one reference id, which the default of 20 checks would stop
with 429s; any answer but 200 stops the run.

Prints its figures (and `--json` prints them as one JSON object); bounded: a few
thousand invocations, well under a minute. moto answers on loopback in about a
millisecond; real KMS `Sign` adds a network round trip in the region (typically
a few ms), which this cannot show.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from bench.common import (
    CODE_REFERENCES,
    MAX_CODE_ATTEMPTS,
    MAX_CODE_CHECKS,
    PIN,
    VENDOR_REFERENCE,
    WRONG_PIN,
    summarise,
    write_json,
)
from local.aws_proxy import AwsProxy
from local.dev import local_stack
from local.lambda_runtime import LocalContext, build_rest_event, ensure_functions_on_path

SIGN: Final = "TrentService.Sign"
GET_PUBLIC_KEY: Final = "TrentService.GetPublicKey"
WARM_UP_CALLS: Final = 2


def _event(reference_id: str, code: str | None) -> dict[str, Any]:
    fields: dict[str, str] = {"referenceId": reference_id}
    if code is not None:
        fields["code"] = code
    return build_rest_event(
        "POST", headers=[("Content-Type", "application/json")], body=json.dumps(fields)
    )


@contextlib.contextmanager
def _function_output_discarded() -> Iterator[None]:
    """The function's log lines and EMF metrics go nowhere while measuring."""
    from telephone_status.observability import logger  # noqa: PLC0415 (after path setup)

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.stream
    handler.stream = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        handler.stream = previous


class _Bench:
    def __init__(self, key_id: str) -> None:
        ensure_functions_on_path()
        from telephone_status import service  # noqa: PLC0415
        from telephone_status.handler import lambda_handler  # noqa: PLC0415

        self.service = service
        self.handler = lambda_handler
        self.key_id = key_id
        self.calls = 0

    def environment(self, *, signing: bool) -> None:
        """A fresh execution environment with token signing on or off."""
        if signing:
            os.environ["TOKEN_SIGNING_KEY_ID"] = self.key_id
        else:
            os.environ.pop("TOKEN_SIGNING_KEY_ID", None)
        self.service.reset_cold_start_state()

    def invoke(self, reference_id: str, code: str | None) -> tuple[float, dict[str, Any]]:
        event = _event(reference_id, code)
        started = time.perf_counter()
        result: dict[str, Any] = self.handler(event, LocalContext(10.0))
        elapsed_ms = (time.perf_counter() - started) * 1000
        if result["statusCode"] != 200:
            raise RuntimeError(f"unexpected {result['statusCode']}: {result['body'][:200]}")
        return elapsed_ms, json.loads(result["body"])

    def correct_pin(self) -> tuple[float, dict[str, Any]]:
        # Rotating references keeps every one far below the attempt limit.
        self.calls += 1
        return self.invoke(CODE_REFERENCES[self.calls % len(CODE_REFERENCES)], PIN)


def measure(blocks: int, per_block: int, issues: int) -> dict[str, Any]:
    with contextlib.ExitStack() as running:
        # Read by the function at its (re)start; local_stack does not set it.
        os.environ["MAX_CODE_CHECKS"] = str(MAX_CODE_CHECKS)
        running.enter_context(
            local_stack(external_upstream=False, max_code_attempts=str(MAX_CODE_ATTEMPTS))
        )
        key_id = os.environ["TOKEN_SIGNING_KEY_ID"]
        proxy = running.enter_context(AwsProxy(os.environ["AWS_ENDPOINT_URL"]))
        os.environ["AWS_ENDPOINT_URL"] = proxy.url
        bench = _Bench(key_id)
        running.enter_context(_function_output_discarded())

        samples: dict[str, list[float]] = {"signed": [], "unsigned": []}
        token_bytes: list[int] = []
        for block in range(blocks):
            # ABBA order: neither arm always runs first.
            order = ("signed", "unsigned") if block % 2 == 0 else ("unsigned", "signed")
            for arm in order:
                bench.environment(signing=arm == "signed")
                for _ in range(WARM_UP_CALLS):
                    bench.correct_pin()
                for _ in range(per_block):
                    elapsed, body = bench.correct_pin()
                    samples[arm].append(elapsed)
                    if arm == "signed":
                        token_bytes.append(len(body["verification"]["token"]))
                    elif body["verification"] is not None:
                        raise RuntimeError("a token was issued with signing off")

        # KMS requests per kind of request, in a signing environment.
        bench.environment(signing=True)
        bench.correct_pin()  # the public key is fetched once per environment
        proxy.reset()
        status_only_ms: list[float] = []
        wrong_pin_ms: list[float] = []
        for _ in range(per_block * 2):
            status_only_ms.append(bench.invoke(VENDOR_REFERENCE, None)[0])
            elapsed, body = bench.invoke(VENDOR_REFERENCE, WRONG_PIN)
            if body["codeValid"] is not False or body["verification"] is not None:
                raise RuntimeError(f"a wrong PIN was answered {body}")
            wrong_pin_ms.append(elapsed)
        kms_without_correct_pin = proxy.count(SIGN) + proxy.count(GET_PUBLIC_KEY)
        proxy.reset()
        for _ in range(per_block):
            bench.correct_pin()
        signs_per_correct_pin = proxy.count(SIGN) / per_block
        public_key_reads = proxy.count(GET_PUBLIC_KEY)

        signer = bench.service.get_dependencies().signer
        assert signer is not None
        deadline_context = LocalContext(10.0)
        issue_ms: list[float] = []
        for index in range(issues):
            started = time.perf_counter()
            signer.issue(VENDOR_REFERENCE, 100, bench.service.deadline_for(deadline_context))
            issue_ms.append((time.perf_counter() - started) * 1000)
            if index % 50 == 49:
                deadline_context = LocalContext(10.0)

    signed, unsigned = summarise(samples["signed"]), summarise(samples["unsigned"])
    return {
        "correct_pin_signed_ms": signed,
        "correct_pin_unsigned_ms": unsigned,
        "signing_cost_p50_ms": round(
            statistics.median(samples["signed"]) - statistics.median(samples["unsigned"]), 3
        ),
        "issue_ms": summarise(issue_ms),
        "status_only_signing_on_ms": summarise(status_only_ms),
        "wrong_pin_signing_on_ms": summarise(wrong_pin_ms),
        "kms_sign_per_correct_pin": signs_per_correct_pin,
        "kms_get_public_key_per_environment_after_first": public_key_reads,
        "kms_calls_status_only_and_wrong_pin": kms_without_correct_pin,
        "token_bytes": max(token_bytes) if token_bytes else 0,
        "samples_per_arm": len(samples["signed"]),
    }


def render(results: dict[str, Any]) -> str:
    def row(label: str, stats: dict[str, float]) -> str:
        return (
            f"  {label:<34} p50 {stats['p50']:7.3f}  p90 {stats['p90']:7.3f}  "
            f"p99 {stats['p99']:7.3f} ms"
        )

    return "\n".join(
        [
            "Verification token cost (correct PIN, local emulator: moto KMS on loopback)",
            row("correct PIN, token signed", results["correct_pin_signed_ms"]),
            row("correct PIN, signing off", results["correct_pin_unsigned_ms"]),
            f"  {'signing cost (difference of p50s)':<34} {results['signing_cost_p50_ms']:.3f} ms",
            row("TokenSigner.issue alone", results["issue_ms"]),
            row("status-only, signing on", results["status_only_signing_on_ms"]),
            row("wrong PIN, signing on", results["wrong_pin_signing_on_ms"]),
            f"  kms:Sign per correct PIN           {results['kms_sign_per_correct_pin']:.2f}",
            "  kms:GetPublicKey once warm         "
            f"{results['kms_get_public_key_per_environment_after_first']} more",
            "  KMS calls, status-only + wrong PIN "
            f"{results['kms_calls_status_only_and_wrong_pin']}",
            f"  token size                         {results['token_bytes']} bytes",
            f"  samples per arm                    {results['samples_per_arm']}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--blocks", type=int, default=6, help="blocks per arm (default 6)")
    parser.add_argument("--per-block", type=int, default=50, help="calls per block (50)")
    parser.add_argument("--issues", type=int, default=300, help="direct issue() calls (300)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    results = measure(args.blocks, args.per_block, args.issues)
    if args.out is not None:
        write_json(args.out, results)
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
