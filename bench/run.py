"""`make bench`: our function against a vendor-style baseline, on one machine, in one run.

Starts, all on 127.0.0.1: moto (Secrets Manager + DynamoDB, provisioned like
production), the ProxStop sandbox (instant answers) and a counting proxy in
front of moto. Then measures, each part in fresh worker processes whose stdout
(Powertools Logger and Metrics output) goes to /dev/null:

1. warm path: interleaved A/B invocations of our handler and bench/baseline.py,
   with bare round trips to the same servers measured in the same iterations
   (code checks alternate right and wrong PINs; token signing off);
2. cold start: fresh interpreter -> import -> first response, plus `import boto3`;
   as shipped (bench/shipped.py: an x86_64 twin of the asset, read-only, its own bytecode);
   and `python -X importtime` of our handler;
3. resources: Secrets Manager calls and upstream TCP connections per 1,000
   invocations, counted at the servers; peak RSS;
4. signing: bench/signing.py in its own process (its own moto with a KMS key): what a
   correct PIN costs for its verification token, and KMS calls per kind of request;
5. package: the zipped size of the synthesised Lambda asset.

The function has no X-Ray SDK (Lambda's active tracing records its segments), so the
Lambda-like runs differ only by the variables Powertools reads inside Lambda.

Prints a table, writes bench/results.json and bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from bench import cold, package, shipped
from bench.common import (
    BENCH_DIR,
    FUNCTIONS_DIR,
    PROXY_VARIABLES,
    WORK_DIR,
    build_event,
    function_environment,
    lambda_like_environment,
    summarise,
    write_json,
)
from bench.report import BEFORE_FILE, evaluate, render_markdown, render_text
from bench.servers import SandboxProcess, start_bench_moto
from local.aws_proxy import GET_SECRET_VALUE, UPDATE_ITEM, AwsProxy

PARTS: Final = ("warm", "signing", "cold", "resources", "package")
NAGLE_SUSPECT_MS: Final = 20.0


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "arch": platform.machine(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
    }


# --------------------------------------------------------------------------- servers


def sandbox_control(sandbox_url: str, path: str, method: str = "GET") -> dict[str, Any]:
    request = urllib.request.Request(
        sandbox_url + path, method=method, data=b"" if method == "POST" else None
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.load(response)
        return result


def run_worker(module: str, args: Sequence[str], env: dict[str, str], timeout: float) -> None:
    """A worker in a fresh interpreter; its stdout (the function's logs) goes to /dev/null."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=BENCH_DIR.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")


# --------------------------------------------------------------------------- parts


def warm_part(env: dict[str, str], iterations: int, warmup: int) -> dict[str, Any]:
    out = WORK_DIR / "warm-samples.json"
    log(f"warm: {warmup} warm-up + {iterations} interleaved iterations")
    started = time.monotonic()
    run_worker("bench.warm", [str(out), str(iterations), str(warmup)], env, timeout=270)
    raw = json.loads(out.read_text(encoding="utf-8"))
    log(f"warm: done in {time.monotonic() - started:.0f} s")
    result = analyse_warm(raw)
    if result["bare_upstream_ms"]["p50"] > NAGLE_SUSPECT_MS:
        log(
            "WARNING: the bare keep-alive round trip to the sandbox takes "
            f"{result['bare_upstream_ms']['p50']:.1f} ms; ~40 ms means the sandbox lost "
            "TCP_NODELAY (delayed ACK + Nagle) and every figure below is off"
        )
    return result


def warm_lambda_like_part(env: dict[str, str], iterations: int, warmup: int) -> dict[str, Any]:
    """Ours only, with Tracer on as inside Lambda (see common.lambda_like_environment)."""
    out = WORK_DIR / "warm-lambda-like-samples.json"
    log(f"warm, Lambda-like env (Tracer on): {iterations} iterations of ours")
    run_worker(
        "bench.warm",
        [str(out), str(iterations), str(warmup), "--ours-only"],
        lambda_like_environment(env),
        timeout=200,
    )
    raw = json.loads(out.read_text(encoding="utf-8"))
    return analyse_warm(raw, ours_only=True)


# Labels of the warm figures: every request, per kind, and code checks per PIN.
WARM_LABELS: Final = ("all", "status", "code", "correct", "wrong")


def analyse_warm(raw: dict[str, Any], *, ours_only: bool = False) -> dict[str, Any]:
    kinds: list[str] = raw["kinds"]
    # Code checks with the right PIN or a wrong one; older raw files have code checks only.
    variants: list[str] = raw.get("variants") or ["correct" if k == "code" else k for k in kinds]
    wall: dict[str, list[float]] = raw["wall"]
    cpu: dict[str, list[float]] = raw["cpu"]

    def matches(label: str, kind: str, variant: str) -> bool:
        return label == "all" or label in (kind, variant)

    def pick(values: list[float], label: str) -> list[float]:
        return [v for v, k, p in zip(values, kinds, variants, strict=True) if matches(label, k, p)]

    bare_up = {p: statistics.median(pick(wall["bare_upstream"], p)) for p in set(variants)}
    bare_attempts = statistics.median(wall["bare_attempts"])

    def added(name: str) -> list[float]:
        return [v - bare_up[p] for v, p in zip(wall[name], variants, strict=True)]

    own = [
        v - bare_up[p] - (bare_attempts if k == "code" else 0.0)
        for v, k, p in zip(wall["ours"], kinds, variants, strict=True)
    ]
    attempt_variants = [p for p in variants if p != "status"]  # bare_attempts: code checks only
    result: dict[str, Any] = {
        "iterations": raw["iterations"],
        "warmup": raw["warmup"],
        "samples": {label: len(pick(wall["ours"], label)) for label in WARM_LABELS},
        "method": (
            "per iteration, in rotating order: our handler, the baseline, a bare keep-alive "
            "upstream POST and a bare attempt-store UpdateItem (the function's own update and "
            "condition expressions, values and return options); code checks alternate right "
            "and wrong PINs, token signing off (see signing); added latency = wall time minus "
            "the median bare upstream round trip of that request variant; own overhead also "
            "subtracts the median bare attempt-store round trip from code checks"
        ),
        "bare_upstream_ms": summarise(wall["bare_upstream"]),
        "bare_attempt_store_ms": summarise(wall["bare_attempts"]),
        "bare_attempt_store_by_pin_ms": {
            p: summarise(
                [v for v, q in zip(wall["bare_attempts"], attempt_variants, strict=True) if q == p]
            )
            for p in ("correct", "wrong")
        },
    }
    for name in ("ours",) if ours_only else ("ours", "baseline"):
        entry: dict[str, Any] = {}
        for label in WARM_LABELS:
            entry[label] = {
                "wall_ms": summarise(pick(wall[name], label)),
                "added_latency_ms": summarise(pick(added(name), label)),
                "cpu_ms": summarise(pick(cpu[name], label)),
            }
        result[name] = entry
    result["ours"]["own_overhead_ms"] = {
        label: summarise(pick(own, label)) for label in WARM_LABELS
    }
    if ours_only:
        return result
    result["ratio_added_latency_p50"] = {
        label: round(
            result["baseline"][label]["added_latency_ms"]["p50"]
            / result["ours"][label]["added_latency_ms"]["p50"],
            2,
        )
        for label in WARM_LABELS
    }
    result["ratio_cpu_p50"] = {
        label: round(
            result["baseline"][label]["cpu_ms"]["p50"] / result["ours"][label]["cpu_ms"]["p50"], 2
        )
        for label in WARM_LABELS
    }
    return result


def signing_part(blocks: int) -> dict[str, Any]:
    """bench/signing.py in its own process: it sets os.environ and imports the handler."""
    out = WORK_DIR / "signing.json"
    out.unlink(missing_ok=True)
    log(f"signing: correct PINs with token signing on and off, {blocks} blocks per arm")
    env = {
        name: value
        for name, value in os.environ.items()
        if name.lower() not in PROXY_VARIABLES
        and not name.startswith(("AWS_", "POWERTOOLS_", "TOKEN_", "MAX_CODE_"))
    }
    env.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    started = time.monotonic()
    run_worker("bench.signing", ["--blocks", str(blocks), "--out", str(out)], env, timeout=240)
    log(f"signing: done in {time.monotonic() - started:.0f} s")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def resources_part(
    base_env: Callable[[str], dict[str, str]],
    proxy: AwsProxy,
    sandbox_url: str,
    invocations: int,
) -> dict[str, Any]:
    result: dict[str, Any] = {"invocations": invocations}
    for target in ("ours", "baseline"):
        log(f"resources: {invocations} invocations of {target} in a fresh process")
        out = WORK_DIR / f"resources-{target}.json"
        sandbox_control(sandbox_url, "/_sandbox/reset", "POST")
        proxy.reset()
        run_worker(
            "bench.resources", [str(out), target, str(invocations)], base_env(proxy.url), 240
        )
        stats = sandbox_control(sandbox_url, "/_sandbox/stats")
        counts = proxy.counts()
        worker = json.loads(out.read_text(encoding="utf-8"))
        result[target] = {
            "secrets_manager_calls": counts.get(GET_SECRET_VALUE, 0),
            "upstream_requests": stats["requests"],
            "upstream_connections": stats["connections"],
            "attempt_store_calls": counts.get(UPDATE_ITEM, 0),
            "aws_requests_by_target": counts,
            "peak_rss_mib": worker["maxrss_mib"],
            "elapsed_s": worker["elapsed_s"],
        }
    return result


def cold_part(env: dict[str, str], runs: int) -> dict[str, Any]:
    """Cold starts with bytecode caches (written once to a private prefix), and as shipped."""
    event_path = WORK_DIR / "cold-event.json"
    write_json(event_path, build_event(0))  # a status-only GET, like most first calls
    cached_env = {
        **{k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPYCACHEPREFIX": str(WORK_DIR / "pycache"),
    }
    log(
        f"cold start: {runs} rounds (+1 discarded) of ours, baseline, import boto3, "
        "and ours with a Lambda-like environment"
    )
    result = cold.measure(
        cached_env,
        event_path,
        runs,
        extra={"ours_lambda_like": ("ours", lambda_like_environment(cached_env))},
    )
    for target in ("ours", "baseline", "ours_lambda_like"):
        result[f"ratio_{target}_vs_import_boto3"] = round(
            result[target]["median_ms"] / result["boto3"]["median_ms"], 2
        )
    log("cold start as shipped: building the x86_64 twin of the asset (infra/bundling.py)")
    twin = shipped.build_twin(sys.executable, WORK_DIR / "twin")
    log(f"cold start as shipped: {runs} rounds (+1 discarded) of ours and import boto3")
    result["as_shipped"] = {"twin": twin, **cold.measure_shipped(env, event_path, runs, twin)}
    log("cold start: python -X importtime of our handler")
    result["importtime"] = cold.import_time(cached_env)
    result["importtime_lambda_like"] = cold.import_time(lambda_like_environment(cached_env))
    result["importtime_as_shipped"] = cold.import_time(
        shipped.shipped_environment(env, twin), python=twin["interpreter"]
    )
    return result


# --------------------------------------------------------------------------- report


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=2000, help="warm A/B iterations")
    parser.add_argument("--warmup", type=int, default=100, help="discarded warm-up iterations")
    parser.add_argument(
        "--tracer-iterations",
        type=int,
        default=1000,
        help="extra warm run of ours in a Lambda-like env, Tracer on (0: skip)",
    )
    parser.add_argument(
        "--signing-blocks", type=int, default=6, help="bench.signing blocks per arm"
    )
    parser.add_argument("--cold-runs", type=int, default=10, help="cold starts per target")
    parser.add_argument("--resource-invocations", type=int, default=1000)
    parser.add_argument("--only", default=",".join(PARTS), help=f"subset of {','.join(PARTS)}")
    parser.add_argument(
        "--functions-dir",
        type=Path,
        default=FUNCTIONS_DIR,
        help="function tree to measure (a scratch copy for experiments)",
    )
    parser.add_argument("--no-synth", action="store_true", help="never run make synth")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results JSON (default bench/results.json, and bench/RESULTS.md beside it; "
        "bench/.work/ when --functions-dir or --only is given)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    parts = {part.strip() for part in args.only.split(",") if part.strip()}
    if unknown := parts - set(PARTS):
        raise SystemExit(f"unknown part(s): {', '.join(sorted(unknown))}")
    official = args.functions_dir.resolve() == FUNCTIONS_DIR and parts == set(PARTS)
    out: Path = args.out or (
        BENCH_DIR / "results.json" if official else WORK_DIR / "results-experiment.json"
    )
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "functions_dir": os.path.relpath(args.functions_dir.resolve(), BENCH_DIR.parent),
        "settings": {
            "logger_metrics_validation": "on (stdout to /dev/null)",
            "tracing": "Lambda active tracing only; no X-Ray SDK in the function",
            "upstream_format": "json (ours); xml (baseline, like the samples)",
            "sandbox": "local/sandbox.py in its own process (bench/sandbox_proc.py)",
        },
    }

    needs_servers = bool(parts & {"warm", "cold", "resources"})
    moto = sandbox = proxy = None
    try:
        if needs_servers:
            log("starting moto, the sandbox and the counting proxy on 127.0.0.1")
            moto = start_bench_moto()
            sandbox = SandboxProcess()
            proxy = AwsProxy(moto.endpoint_url, upstream_timeout=30.0)
            moto_url, sandbox_url = moto.endpoint_url, sandbox.url

            def env_for(aws_endpoint_url: str) -> dict[str, str]:
                return function_environment(
                    aws_endpoint_url=aws_endpoint_url,
                    sandbox_url=sandbox_url,
                    moto_url=moto_url,
                    functions_dir=args.functions_dir.resolve(),
                )

            direct = env_for(moto_url)
            if "warm" in parts:
                results["warm"] = warm_part(direct, args.iterations, args.warmup)
                if args.tracer_iterations > 0:
                    results["warm_lambda_like"] = warm_lambda_like_part(
                        direct, args.tracer_iterations, args.warmup
                    )
            if "resources" in parts:
                results["resources"] = resources_part(
                    env_for, proxy, sandbox_url, args.resource_invocations
                )
            if "cold" in parts:
                results["cold"] = cold_part(direct, args.cold_runs)
    finally:
        for server in (proxy, sandbox, moto):
            if server is not None:
                server.stop()
    if "signing" in parts:
        results["signing"] = signing_part(args.signing_blocks)
    if "package" in parts:
        log("package: zipping the synthesised asset")
        results["package"] = package.measure(allow_synth=not args.no_synth)
    results["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    results["checks"] = evaluate(results)
    results["duration_s"] = round(time.monotonic() - started)
    before_path = BENCH_DIR / BEFORE_FILE
    before = json.loads(before_path.read_text(encoding="utf-8")) if before_path.is_file() else None
    print(render_text(results, before))
    write_json(out, results)
    if out == BENCH_DIR / "results.json":
        (BENCH_DIR / "RESULTS.md").write_text(render_markdown(results, before), encoding="utf-8")
    log(f"wrote {os.path.relpath(out, BENCH_DIR.parent)} in {results['duration_s']} s total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
