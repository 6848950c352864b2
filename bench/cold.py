"""Cold start: fresh interpreter -> import handler -> first response, timed from outside.

The clock starts just before the interpreter is spawned and stops when the
child writes its report to a pipe right after its first response (so process
teardown is not counted). The three targets run interleaved round by round,
after one discarded round that warms the page cache and __pycache__.
"""

from __future__ import annotations

import json
import os
import re
import select
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from bench.common import ENV_READY_FD, ROOT

TARGETS: Final = ("ours", "baseline", "boto3")
_IMPORTTIME: Final = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def _argv(target: str, event_path: Path, python: str | None = None) -> list[str]:
    if target == "boto3":
        code = (
            "import os, time; t = time.perf_counter(); import boto3; "
            "ms = (time.perf_counter() - t) * 1000; "
            "os.write(int(os.environ['BENCH_READY_FD']), b'{\"import_ms\": %f}\\n' % ms)"
        )
    else:
        code = f"from bench.cold_child import main; main({target!r}, {str(event_path)!r})"
    if python is None:
        return [sys.executable, "-c", code]
    # A bare interpreter for the twin: -S keeps this machine's site-packages and .pth hooks
    # (one imports certifi, ~35 ms) out of both ours and import boto3, as on Lambda.
    return [python, "-S", "-c", code]


def spawn_once(
    target: str,
    env: Mapping[str, str],
    event_path: Path,
    timeout: float,
    python: str | None = None,
) -> dict[str, Any]:
    """One fresh interpreter; wall time from spawn to its report, plus what it reported."""
    read_end, write_end = os.pipe()
    started = time.perf_counter()
    process = subprocess.Popen(
        _argv(target, event_path, python),
        cwd=ROOT,
        env={**env, ENV_READY_FD: str(write_end)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,  # Logger and Metrics output
        stderr=subprocess.PIPE,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    data = b""
    try:
        deadline = started + timeout
        while not data.endswith(b"\n"):
            ready, _, _ = select.select(
                [read_end], [], [], max(0.0, deadline - time.perf_counter())
            )
            if not ready:
                break
            chunk = os.read(read_end, 4096)
            if not chunk:
                break
            data += chunk
        finished = time.perf_counter()
    finally:
        os.close(read_end)
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    if not data.endswith(b"\n"):
        tail = stderr.decode("utf-8", "replace")[-1500:]
        raise RuntimeError(f"cold start of {target} gave no report:\n{tail}")
    report: dict[str, Any] = json.loads(data)
    report["wall_ms"] = (finished - started) * 1000
    return report


def measure(
    env: Mapping[str, str],
    event_path: Path,
    runs: int,
    *,
    discard_first: bool = True,
    extra: Mapping[str, tuple[str, Mapping[str, str]]] | None = None,
    targets: Sequence[str] = TARGETS,
    python: str | None = None,
) -> dict[str, Any]:
    """Median cold start per target; round 0 only warms caches when `discard_first`.

    `extra` adds labelled runs of a target ("ours", "baseline") in another environment.
    """
    plan: list[tuple[str, str, Mapping[str, str]]] = [(t, t, env) for t in targets]
    plan += [(label, target, extra_env) for label, (target, extra_env) in (extra or {}).items()]
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    first = 0 if discard_first else 1
    for round_number in range(first, runs + 1):
        shift = round_number % len(plan)
        for label, target, target_env in plan[shift:] + plan[:shift]:
            report = spawn_once(target, target_env, event_path, timeout=60.0, python=python)
            if target != "boto3" and report.get("status_code") != 200:
                raise RuntimeError(f"cold start of {label} answered {report.get('status_code')}")
            if round_number > 0:
                samples[label].append(report)
    result: dict[str, Any] = {}
    for label, reports in samples.items():
        entry: dict[str, Any] = {
            "runs": len(reports),
            "median_ms": round(statistics.median(r["wall_ms"] for r in reports), 1),
            "min_ms": round(min(r["wall_ms"] for r in reports), 1),
            "max_ms": round(max(r["wall_ms"] for r in reports), 1),
            "import_median_ms": round(statistics.median(r["import_ms"] for r in reports), 1),
        }
        if "first_invoke_ms" in reports[0]:
            entry["first_invoke_median_ms"] = round(
                statistics.median(r["first_invoke_ms"] for r in reports), 1
            )
        result[label] = entry
    return result


def measure_shipped(
    env: Mapping[str, str], event_path: Path, runs: int, twin: Mapping[str, Any]
) -> dict[str, Any]:
    """As shipped: ours from the read-only twin asset (Lambda-like env) against a bare
    `import boto3` from the twin's runtime folder, same interpreter, interleaved."""
    from bench.shipped import shipped_environment  # noqa: PLC0415

    shipped_env = shipped_environment(env, twin)
    result = measure(
        shipped_env,
        event_path,
        runs,
        targets=("ours", "boto3"),
        python=twin["interpreter"],
    )
    result["ratio_ours_vs_import_boto3"] = round(
        result["ours"]["median_ms"] / result["boto3"]["median_ms"], 2
    )
    result["python"] = twin["python"]
    return result


def import_time(env: Mapping[str, str], top: int = 10, python: str | None = None) -> dict[str, Any]:
    """`python -X importtime` of our handler: top modules by cumulative time, and by package."""
    completed = subprocess.run(
        [
            *([sys.executable] if python is None else [python, "-S"]),
            "-X",
            "importtime",
            "-c",
            "import telephone_status.handler",
        ],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows: list[tuple[str, int, int, int]] = []
    for line in completed.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            depth = len(match[3]) // 2
            rows.append((match[4], int(match[1]), int(match[2]), depth))
    by_package: dict[str, int] = defaultdict(int)
    for module, self_us, _, _ in rows:
        by_package[module.split(".")[0]] += self_us
    total_us = max((cumulative for _, _, cumulative, _ in rows), default=0)
    ranked = sorted(rows, key=lambda row: row[2], reverse=True)[:top]
    packages = sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:top]
    return {
        "total_ms": round(total_us / 1000, 1),
        "top_cumulative": [
            {"module": m, "self_ms": round(s / 1000, 1), "cumulative_ms": round(c / 1000, 1)}
            for m, s, c, _ in ranked
        ],
        "by_top_level_package": [
            {"package": name, "self_ms": round(us / 1000, 1)} for name, us in packages
        ],
    }
