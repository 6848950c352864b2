"""Cold start as shipped: fresh interpreter -> import the handler -> first response.

Ours runs from the read-only twin of the asset (bench/shipped.py) in a Lambda-like
environment; beside it, a bare `import boto3` from the twin's runtime folder, in the same
interpreter, run with `-S` (this machine's site-packages and .pth hooks stay out, as on
Lambda). The clock starts just before the spawn and stops when the child reports on a pipe
right after its first response (teardown is not counted). Both alternate round by round,
after one discarded round that warms the page cache. Each start of ours also checks that
libphonenumber (`phonenumbers`, the start route's) is still not loaded after the handler
import and the first response: it must stay out of the PIN-check path's cold start.
"""

from __future__ import annotations

import json
import os
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any, Final

from bench.common import ROOT, WORK_DIR, write_json
from bench.scenarios import WARM
from bench.shipped import build_twin, shipped_environment

READY_FD: Final = "BENCH_READY_FD"
_BOTO3: Final = (
    "import os, time; t = time.perf_counter(); import boto3; "
    "ms = (time.perf_counter() - t) * 1000; "
    "os.write(int(os.environ['BENCH_READY_FD']), b'{\"import_ms\": %f}\\n' % ms)"
)


def spawn_once(argv: list[str], env: Mapping[str, str], timeout: float = 60.0) -> dict[str, Any]:
    """One fresh interpreter: wall time from spawn to its report, plus what it reported."""
    read_end, write_end = os.pipe()
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**env, READY_FD: str(write_end)},
        pass_fds=(write_end,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_end)
    data = b""
    deadline = started + timeout
    while not data.endswith(b"\n"):  # bounded by the deadline and by the child's exit (EOF)
        ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.perf_counter()))
        chunk = os.read(read_end, 4096) if ready else b""
        if not chunk:
            break
        data += chunk
    finished = time.perf_counter()
    os.close(read_end)
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    if not data.endswith(b"\n"):
        raise RuntimeError(f"{argv[-1][:60]} gave no report:\n{stderr.decode()[-1500:]}")
    report: dict[str, Any] = json.loads(data)
    return {**report, "wall_ms": (finished - started) * 1000}


def measure(env: Mapping[str, str], runs: int, python: str = sys.executable) -> dict[str, Any]:
    """Medians of `runs` cold starts of ours and of `import boto3`, from a fresh twin."""
    twin = build_twin(python, WORK_DIR / "twin")
    event_path = WORK_DIR / "cold-event.json"
    write_json(event_path, WARM[0].request(0).event())  # a status-only GET, like most first calls
    child = f"from bench.cold_child import main; main({str(event_path)!r})"
    argv = {
        "ours": [twin["interpreter"], "-S", "-c", child],
        "boto3": [twin["interpreter"], "-S", "-c", _BOTO3],
    }
    shipped = shipped_environment(env, twin)
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in argv}
    for round_number in range(runs + 1):
        for name in sorted(argv, reverse=round_number % 2 == 1):
            report = spawn_once(argv[name], shipped)
            if name == "ours" and (report["status_code"] != 200 or report["phonenumbers_loaded"]):
                raise RuntimeError(f"cold start: {report}")
            if round_number > 0:  # round 0 only warms the page cache
                samples[name].append(report)
    # Checked in every start (bench/cold_child.py): else no figure at all.
    result: dict[str, Any] = {"python": twin["python"], "runs": runs, "phonenumbers": False}
    for name, reports in samples.items():
        result[name] = {
            key: round(statistics.median(r[key] for r in reports), 1)
            for key in ("wall_ms", "import_ms", "first_invoke_ms")
            if key in reports[0]
        }
    result["ratio"] = round(result["ours"]["wall_ms"] / result["boto3"]["wall_ms"], 2)
    return result
