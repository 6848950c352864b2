"""`make bench`: the function's warm overhead, cold start as shipped and token cost, all on
127.0.0.1 (moto and the ProxStop sandbox); prints the figures beside the targets
(bench/targets.py) and writes them to bench/.work/results.json. bench/README.md reads them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from bench import cold, targets
from bench.common import (
    WORK_DIR,
    function_environment,
    loopback_environment,
    run_worker,
    write_json,
)
from bench.common import servers as start_servers
from bench.scenarios import WARM

PARTS: Final = ("warm", "cold", "signing")
Row = tuple[str, str, str, bool | None]  # figure, value, target, met (None: no target)


STARTED: Final = time.monotonic()


def log(message: str) -> None:
    print(f"bench [{time.monotonic() - STARTED:3.0f} s]: {message}", file=sys.stderr, flush=True)


def measure(parts: set[str], args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if parts & {"warm", "cold"}:
        log("starting moto and the sandbox on 127.0.0.1")
        with start_servers() as (sandbox_url, moto_url):
            env = function_environment(sandbox_url, moto_url)
            if "warm" in parts:
                log(f"warm: {args.warmup} + {args.rounds} rounds of {len(WARM)} scenarios")
                out = WORK_DIR / "warm.json"
                run_worker("bench.warm", [str(out), str(args.rounds), str(args.warmup)], env, 240)
                results["warm"] = json.loads(out.read_text(encoding="utf-8"))
            if "cold" in parts:
                log(f"cold start as shipped: building the twin, then {args.cold_runs} rounds")
                results["cold"] = cold.measure(env, args.cold_runs)
    if "signing" in parts:
        log(f"signing: {args.signing_blocks} blocks per arm, its own moto and sandbox")
        out = WORK_DIR / "signing.json"
        run_worker(
            "bench.signing", [str(out), str(args.signing_blocks)], loopback_environment(), 240
        )
        results["signing"] = json.loads(out.read_text(encoding="utf-8"))
    return results


def info(figure: str, value: str) -> Row:
    return (figure, value, "", None)


def at_most(figure: str, value: float, limit: float, unit: str) -> Row:
    return (figure, f"{value:.2f}{unit}", f"<= {limit:g}{unit}", value <= limit)


def equal(figure: str, value: float, wanted: float) -> Row:
    return (figure, f"{value:g}", f"= {wanted:g}", value == wanted)


def _p50_p99(figure: dict[str, float]) -> str:
    return f"{figure['p50']:.2f} / {figure['p99']:.2f} ms"


def rows(results: dict[str, Any]) -> list[Row]:
    table: list[Row] = []
    for scenario in WARM:
        if (warm := results.get("warm", {}).get(scenario.name)) is None:
            continue
        own, wall, cpu = warm["own_overhead_ms"], warm["wall_ms"], warm["cpu_ms"]
        raw = warm["own_overhead_raw_ms"]["p50"]
        sdk_share = raw - own["p50"]
        references = " + ".join(f"{n} {v:.2f}" for n, v in warm["references_p50_ms"].items())
        through_sdk = " + ".join(f"{n} {v:.2f}" for n, v in warm["through_sdk_p50_ms"].items())
        table += [
            at_most(
                f"{scenario.name}: own overhead p50", own["p50"], scenario.target_p50_ms or 0, " ms"
            ),
            at_most("  own overhead p99", own["p99"], targets.OVERHEAD_P99_MS, " ms"),
            info("  wall p50 / CPU p50", f"{wall['p50']:.2f} / {cpu['p50']:.2f} ms"),
            info("  own CPU p50 / p99 beyond the boto3 block's", _p50_p99(warm["own_cpu_ms"])),
            info("  own waiting p50 / p99 beyond the boto3 block's", _p50_p99(warm["own_wait_ms"])),
            info("  round trips p50, through boto3", f"{through_sdk} ms"),
            info("  round trips p50, raw HTTP", f"{references} ms"),
            info("  own overhead p50 beyond raw HTTP", f"{raw:.2f} ms, boto3 {sdk_share:.2f}"),
        ]
    if (warmed := results.get("warm", {}).get("loaded_in_warmup")) is not None:
        table.append(info("lazy imports loaded before measuring", ", ".join(warmed) or "none"))
    if cold_start := results.get("cold"):
        ours, boto3 = cold_start["ours"], cold_start["boto3"]
        table += [
            info(
                f"cold start as shipped (Python {cold_start['python']}), median",
                f"{ours['wall_ms']:.0f} ms",
            ),
            info(
                "  of which import / first response",
                f"{ours['import_ms']:.0f} / {ours['first_invoke_ms']:.0f} ms",
            ),
            info(
                "  phonenumbers after the handler import",
                "loaded" if cold_start["phonenumbers"] else "not loaded",
            ),
            info("  bare import boto3, median", f"{boto3['wall_ms']:.0f} ms"),
            at_most(
                "  as shipped / import boto3", cold_start["ratio"], targets.COLD_START_RATIO, "x"
            ),
        ]
    if signing := results.get("signing"):
        table += [
            info("correct PIN, token signed, wall p50", f"{signing['signed_ms']['p50']:.2f} ms"),
            info("  signing off, wall p50", f"{signing['unsigned_ms']['p50']:.2f} ms"),
            info("  token cost (difference of p50s)", f"{signing['cost_p50_ms']:.2f} ms"),
            equal(
                "  kms:Sign per correct PIN",
                signing["kms_sign_per_correct_pin"],
                targets.KMS_SIGN_PER_CORRECT_PIN,
            ),
            equal(
                "KMS calls, status-only + wrong PINs",
                signing["kms_calls_status_only_and_wrong_pin"],
                targets.KMS_CALLS_WITHOUT_CORRECT_PIN,
            ),
        ]
    return table


def render(table: list[Row], header: str) -> str:
    lines = [header, f"{'figure':<44} {'value':>26}  {'target':<10} result"]
    for figure, value, target, met in table:
        verdict = "" if met is None else ("met" if met else "MISSED")
        lines.append(f"{figure:<44} {value:>26}  {target:<10} {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=600, help="warm rounds (600)")
    parser.add_argument("--warmup", type=int, default=50, help="discarded warm rounds (50)")
    parser.add_argument("--cold-runs", type=int, default=10, help="cold starts each (10)")
    parser.add_argument("--signing-blocks", type=int, default=6, help="blocks per arm (6)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"subset of {','.join(PARTS)}")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    parts = {part.strip() for part in args.only.split(",") if part.strip()}
    if args.warmup < 1:
        parser.error("--warmup must be at least 1: the start route's first call imports")
    if unknown := parts - set(PARTS):
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    when, load = datetime.now(UTC), os.getloadavg()[0]
    results = measure(parts, args)
    header = (
        f"make bench, {when:%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load:.1f} -> {os.getloadavg()[0]:.1f}, "
        f"{time.monotonic() - STARTED:.0f} s"
    )
    table = rows(results)
    print(render(table, header))
    out = WORK_DIR / "results.json"
    write_json(out, {"header": header, **results, "duration_s": round(time.monotonic() - STARTED)})
    log(f"wrote {out.relative_to(WORK_DIR.parent.parent)}")
    return 1 if args.strict and any(met is False for *_, met in table) else 0


if __name__ == "__main__":
    sys.exit(main())
