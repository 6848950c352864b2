"""Shared by the benchmark's orchestrator and its worker processes: names, events, statistics."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

ROOT: Final = Path(__file__).resolve().parent.parent
BENCH_DIR: Final = ROOT / "bench"
WORK_DIR: Final = BENCH_DIR / ".work"  # git-ignored scratch space (events, raw samples)
FUNCTIONS_DIR: Final = ROOT / "functions"

SECRET_NAME: Final = "bench/proxstop-api-key"
TABLE_NAME: Final = "bench-telephone-status-attempts"
REGION: Final = "us-east-1"
SANDBOX_KEY: Final = "098f6bcd4621d373cade4e832627b4f6"  # local/sandbox.py DEFAULT_KEY
VENDOR_REFERENCE: Final = "97A677DD3E0A42B8EA58D93D05BAC89F"
PIN: Final = "16322"
WRONG_PIN: Final = "54321"  # any other five digits: the sandbox answers valid = -1
# Both limits at the highest the settings accept (le=1000 distinct PINs, le=10000 checks
# of any PIN per reference id and window). Code checks rotate over 100 sandbox references
# (status 100..199), one PIN each: a whole `make bench` makes ~2,100 checks, ~21 per id,
# already over the default MAX_CODE_CHECKS of 20. At these limits any 429 is a real fault,
# which the workers fail on rather than measure.
MAX_CODE_ATTEMPTS: Final = 1000
MAX_CODE_CHECKS: Final = 10_000
CODE_REFERENCES: Final = tuple(f"{'0' * 29}{status}" for status in range(100, 200))

# Environment variables the orchestrator hands its workers.
ENV_SANDBOX_URL: Final = "BENCH_SANDBOX_URL"
ENV_MOTO_URL: Final = "BENCH_MOTO_URL"
ENV_FUNCTIONS_DIR: Final = "BENCH_FUNCTIONS_DIR"
ENV_READY_FD: Final = "BENCH_READY_FD"

Kind = Literal["status", "code"]
KINDS: Final[tuple[Kind, Kind]] = ("status", "code")
# Finer than Kind: a code check with the right PIN or a wrong one.
Variant = Literal["status", "correct", "wrong"]
VARIANTS: Final[tuple[Variant, Variant, Variant]] = ("status", "correct", "wrong")
PROXY_VARIABLES: Final = ("http_proxy", "https_proxy", "all_proxy")


def function_environment(
    *, aws_endpoint_url: str, sandbox_url: str, moto_url: str, functions_dir: Path
) -> dict[str, str]:
    """The whole environment of a worker process: the function's variables plus AWS emulator."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name.lower() not in PROXY_VARIABLES and not name.startswith(("AWS_", "POWERTOOLS_"))
    }
    env.update(
        {
            # Everything stays on loopback, whatever proxy the machine has configured.
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "AWS_ENDPOINT_URL": aws_endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PROXSTOP_SECRET_ID": SECRET_NAME,
            "PROXSTOP_API_URL": sandbox_url,
            "PROXSTOP_FORMAT": "json",
            "ATTEMPTS_TABLE_NAME": TABLE_NAME,
            "MAX_CODE_ATTEMPTS": str(MAX_CODE_ATTEMPTS),
            "MAX_CODE_CHECKS": str(MAX_CODE_CHECKS),
            "POWERTOOLS_SERVICE_NAME": "telephone-status",
            "POWERTOOLS_METRICS_NAMESPACE": "TelephoneStatus",
            ENV_SANDBOX_URL: sandbox_url,
            ENV_MOTO_URL: moto_url,
            ENV_FUNCTIONS_DIR: str(functions_dir),
            "PYTHONPATH": os.pathsep.join([str(functions_dir), str(ROOT)]),
        }
    )
    return env


def lambda_like_environment(env: Mapping[str, str]) -> dict[str, str]:
    """`env` as inside Lambda, for what Powertools and botocore read there.

    LAMBDA_TASK_ROOT and the function name are what Powertools checks to know it is
    inside Lambda; the trace header is what Logger reads for `xray_trace_id`.
    """
    return {
        **env,
        "LAMBDA_TASK_ROOT": env.get(ENV_FUNCTIONS_DIR, str(FUNCTIONS_DIR)),
        "AWS_LAMBDA_FUNCTION_NAME": "telephone-status",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "_X_AMZN_TRACE_ID": (
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        ),
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }


def use_function_tree() -> None:
    """In a worker: import `telephone_status` from the tree the orchestrator chose."""
    functions = os.environ.get(ENV_FUNCTIONS_DIR, str(FUNCTIONS_DIR))
    for path in (str(ROOT), functions):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)


def kind_of(index: int) -> Kind:
    """Invocations alternate: even = status-only GET, odd = code-check POST (JSON)."""
    return "status" if index % 2 == 0 else "code"


def variant_of(index: int) -> Variant:
    """Code checks alternate between the right PIN and a wrong one (4n+1 right, 4n+3 wrong)."""
    if kind_of(index) == "status":
        return "status"
    return "correct" if index % 4 == 1 else "wrong"


def request_fields(index: int) -> tuple[str, str | None]:
    """Reference id and PIN of invocation `index` (the same for ours and the baseline)."""
    variant = variant_of(index)
    if variant == "status":
        return VENDOR_REFERENCE, None
    reference = CODE_REFERENCES[(index // 2) % len(CODE_REFERENCES)]
    return reference, PIN if variant == "correct" else WRONG_PIN


def build_event(index: int) -> dict[str, Any]:
    """A realistic API Gateway REST proxy event for invocation `index`."""
    from local.lambda_runtime import build_rest_event  # noqa: PLC0415 (needs the repo root on sys.path)

    reference_id, code = request_fields(index)
    common = [
        ("Accept", "application/json"),
        ("Accept-Encoding", "gzip"),
        ("User-Agent", "okhttp/4.12.0"),
        ("CloudFront-Viewer-Country", "DE"),
    ]
    if code is None:
        return build_rest_event(
            "GET", query=[("referenceId", reference_id)], headers=common, stage="prod"
        )
    body = json.dumps({"referenceId": reference_id, "code": code})
    return build_rest_event(
        "POST",
        headers=[*common, ("Content-Type", "application/json; charset=utf-8")],
        body=body,
        stage="prod",
    )


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); `sorted_values` sorted."""
    if not sorted_values:
        return math.nan
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def summarise(values: Iterable[float]) -> dict[str, float]:
    """p50/p90/p99/mean/min/max/n of samples in milliseconds, rounded to the microsecond."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    stats = {
        "p50": percentile(ordered, 0.50),
        "p90": percentile(ordered, 0.90),
        "p99": percentile(ordered, 0.99),
        "mean": sum(ordered) / len(ordered),
        "min": ordered[0],
        "max": ordered[-1],
    }
    rounded = {name: round(value, 3) for name, value in stats.items()}
    return {**rounded, "n": len(ordered)}


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
