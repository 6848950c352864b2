"""`make load`: a bounded Locust run against the local API server. Prints figures; not a test.

Starts, like `make run` (local/dev.py, whose helpers it reuses): moto in a subprocess, the
ProxStop sandbox and the local API server on free ports of 127.0.0.1, in this process, with
the function configured through its real environment variables. After a short warm-up, Locust
runs headless in a subprocess (bench/locustfile.py) against that server, bounded three ways:
users (--users), requests (--requests) and time (--max-seconds). Its scenarios:

- GET status-only lookups over many status reference ids (and the vendor's);
- POST JSON and POST form PIN checks over 101 reference ids, right and wrong PINs
  (MAX_CODE_ATTEMPTS and MAX_CODE_CHECKS are raised to their maxima, 1000 and 10,000,
  so that no id reaches either: with the default 20 checks a longer run would turn PIN
  checks into 429s, which this counts as unexpected rather than measures);
- bad input: unknown reference ids (404) and malformed requests (400).

Locust writes its CSV files (bench/load_*.csv) and its HTML report with charts
(bench/load-report.html). This prints requests/s, latency percentiles, counts per scenario,
unexpected outcomes (a status other than the one the scenario expects, or a transport error)
and the growth of this process's resident memory (the handler's: the local server invokes it
one request at a time, as one Lambda execution environment) between the end of the warm-up and
the end of the run.

Every request, in the warm-up too, expects one status (200 for lookups and PIN checks, 404
for unknown ids, 400 for malformed input); anything else is unexpected.

Targets: zero unexpected outcomes; memory growth under 10 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import json
import math
import os
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final
from urllib.parse import urlencode

import urllib3

from bench.common import MAX_CODE_ATTEMPTS as BENCH_MAX_CODE_ATTEMPTS
from bench.common import MAX_CODE_CHECKS as BENCH_MAX_CODE_CHECKS
from local.dev import local_stack
from local.lambda_runtime import API_PATH
from local.sandbox import (
    PIN,
    VENDOR_REFERENCE,
    SandboxServer,
    status_reference,
)
from local.server import serve

ROOT: Final = Path(__file__).resolve().parents[1]
_PROXY_VARIABLES: Final = ("http_proxy", "https_proxy", "all_proxy")
MEMORY_TARGET_MB: Final = 10.0
BATCH: Final = 250
# The highest the function's settings accept (bench.common).
MAX_CODE_ATTEMPTS: Final = str(BENCH_MAX_CODE_ATTEMPTS)
MAX_CODE_CHECKS: Final = str(BENCH_MAX_CODE_CHECKS)
WRONG_PIN: Final = "54321"
JSON_HEADERS: Final = {"Content-Type": "application/json"}
FORM_HEADERS: Final = {"Content-Type": "application/x-www-form-urlencoded"}
# Status-only lookups: every published class and plenty of unknown codes.
STATUS_REFERENCES: Final = tuple(status_reference(code) for code in range(100, 1000, 7))
# PIN checks spread over 101 ids, so that none gets near MAX_CODE_ATTEMPTS or MAX_CODE_CHECKS.
CODE_REFERENCES: Final = (VENDOR_REFERENCE, *(status_reference(c) for c in range(100, 200)))


@dataclass(frozen=True)
class Planned:
    method: str
    url_suffix: str
    body: bytes | None
    headers: dict[str, str]
    expected: int


def plan(index: int) -> Planned:
    """The index-th request of the mix (deterministic): 50% GET, 40% PIN checks, 10% 404s."""
    slot = index % 20
    round_ = index // 20
    if slot < 10:
        reference = (
            VENDOR_REFERENCE if slot == 0 else STATUS_REFERENCES[index % len(STATUS_REFERENCES)]
        )
        query = urlencode({"referenceId": reference if round_ % 2 else reference.lower()})
        return Planned("GET", f"{API_PATH}?{query}", None, {}, 200)
    if slot < 18:
        reference = CODE_REFERENCES[(index // 2) % len(CODE_REFERENCES)]
        pin = PIN if index % 3 == 0 else WRONG_PIN
        if slot < 15:
            body = json.dumps({"referenceId": reference, "code": pin}).encode()
            return Planned("POST", API_PATH, body, JSON_HEADERS, 200)
        form = urlencode({"referenceid": reference, "code": pin}).encode()
        return Planned("POST", API_PATH, form, FORM_HEADERS, 200)
    unknown = f"{index:032X}".replace("0", "E")  # unknown to the sandbox: 404
    body = json.dumps({"referenceId": unknown}).encode()
    return Planned("POST", API_PATH, body, JSON_HEADERS, 404)


@dataclass
class Tally:
    """What the client threads observed; guarded by `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)

    def record(self, latency_ms: float, status: int | None, problem: str | None) -> None:
        with self.lock:
            self.latencies_ms.append(latency_ms)
            if status is not None:
                self.statuses[status] += 1
            if problem is not None:
                self.unexpected[problem] += 1


def run_load(
    base_url: str,
    requests: int,
    concurrency: int,
    max_seconds: float,
    every_batch: Callable[[], None] = lambda: None,
) -> tuple[Tally, float]:
    """Sends `requests` requests from `concurrency` threads; stops early at `max_seconds`.

    `every_batch` runs once every BATCH requests (housekeeping outside the handler).
    """
    tally = Tally()
    pool = urllib3.PoolManager(
        maxsize=concurrency, retries=False, timeout=urllib3.Timeout(connect=5, read=30)
    )
    next_index = iter(range(requests))
    index_lock = threading.Lock()
    started = time.monotonic()
    deadline = started + max_seconds

    def worker() -> None:
        while time.monotonic() < deadline:
            with index_lock:
                index = next(next_index, None)
            if index is None:
                return
            if index % BATCH == 0:
                every_batch()
            planned = plan(index)
            sent = time.perf_counter()
            try:
                response = pool.request(
                    planned.method,
                    base_url + planned.url_suffix,
                    body=planned.body,
                    headers=planned.headers,
                )
            except urllib3.exceptions.HTTPError as error:
                tally.record((time.perf_counter() - sent) * 1000, None, type(error).__name__)
                continue
            latency_ms = (time.perf_counter() - sent) * 1000
            problem = (
                None
                if response.status == planned.expected
                else f"HTTP {response.status}, expected {planned.expected}"
            )
            tally.record(latency_ms, response.status, problem)

    threads = [threading.Thread(target=worker, name=f"load-{n}") for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    pool.clear()
    return tally, elapsed


def rss_mib() -> float:
    """This process's resident set size now (VmRSS), in MiB."""
    gc.collect()
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    # No /proc (not Linux): fall back to the peak, which can only overstate growth.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


@contextlib.contextmanager
def function_stdout_to_devnull() -> Iterator[IO[str]]:
    """The handler's JSON logs and EMF metrics go to stdout; hide them, keep the report's."""
    report = sys.stdout
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        sys.stdout = devnull
        try:
            yield report
        finally:
            sys.stdout = report


@contextlib.contextmanager
def local_api(upstream_format: str) -> Iterator[tuple[str, SandboxServer]]:
    """moto + sandbox (never PROXSTOP_API_URL) + local API server, as `make run` sets them up."""
    # The function reads it from the environment; local_stack leaves it as it finds it.
    os.environ["MAX_CODE_CHECKS"] = MAX_CODE_CHECKS
    with local_stack(
        upstream_format=upstream_format,
        max_code_attempts=MAX_CODE_ATTEMPTS,
        external_upstream=False,
    ) as stack:
        assert stack.sandbox is not None  # external_upstream=False: always started
        api = serve(0, quiet=True)
        try:
            yield api.url, stack.sandbox
        finally:
            api.stop()


LOCUSTFILE: Final = Path(__file__).with_name("locustfile.py")
CSV_PREFIX: Final = Path(__file__).with_name("load")
HTML_REPORT: Final = Path(__file__).with_name("load-report.html")


def run_locust(base_url: str, users: int, requests: int, max_seconds: float) -> None:
    """Locust, headless, in its own process (it monkey-patches the standard library)."""
    if not base_url.startswith("http://127.0.0.1:"):
        raise SystemExit(f"make load only targets loopback, not {base_url}")
    env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARIABLES}
    env.update(
        {
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "LOAD_REQUESTS": str(requests),
            "PYTHONPATH": str(ROOT),
        }
    )
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", base_url, "--users", str(users), "--spawn-rate", str(users),
        "--run-time", f"{max(1, math.ceil(max_seconds))}s", "--stop-timeout", "5",
        "--csv", str(CSV_PREFIX), "--html", str(HTML_REPORT), "--only-summary",
        "--loglevel", "WARNING", "--exit-code-on-error", "0",
    ]  # fmt: skip
    completed = subprocess.run(
        command,
        check=False,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=max_seconds + 120,
    )
    if completed.returncode != 0:
        raise SystemExit(f"locust failed ({completed.returncode}):\n{completed.stderr[-2000:]}")


def read_locust_stats() -> tuple[dict[str, dict[str, str]], list[dict[str, str]]]:
    """Locust's per-scenario rows (with "Aggregated") and its failures, from its CSV files."""
    with open(f"{CSV_PREFIX}_stats.csv", encoding="utf-8", newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    with open(f"{CSV_PREFIX}_failures.csv", encoding="utf-8", newline="") as handle:
        failures = list(csv.DictReader(handle))
    return rows, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=3000, help="requests to send (3000)")
    parser.add_argument("--users", type=int, default=8, help="concurrent Locust users (8)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time cap (60)")
    parser.add_argument("--warmup", type=int, default=300, help="warm-up requests (300)")
    parser.add_argument("--format", choices=("json", "xml"), default="json", help="upstream")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.users < 1 or args.max_seconds <= 0:
        parser.error("--requests, --users and --max-seconds must be positive")

    print("Starting moto, the ProxStop sandbox and the local API server...", flush=True)
    with local_api(args.format) as (base_url, sandbox), function_stdout_to_devnull() as out:
        # The sandbox journals every upstream request (for tests); clearing it keeps the
        # sandbox's memory flat, so that the RSS figures are the handler's and the server's.
        forget = sandbox.reset
        warm, _ = run_load(base_url, args.warmup, args.users, args.max_seconds, forget)
        forget()
        rss_start = rss_mib()
        started = time.monotonic()
        # The sandbox is reset between runs only: Locust's run is a few thousand requests.
        run_locust(base_url, args.users, args.requests, args.max_seconds)
        elapsed = time.monotonic() - started
        forget()
        rss_end = rss_mib()
    warm_unexpected = sum(warm.unexpected.values())
    rows, failures = read_locust_stats()
    total = rows["Aggregated"]
    done = int(total["Request Count"])
    unexpected = int(total["Failure Count"])
    growth = rss_end - rss_start
    growth_mb = growth * 1.048576
    met = unexpected == 0 and warm_unexpected == 0 and growth_mb < MEMORY_TARGET_MB and done > 0

    lines = [
        "",
        f"Locust load run against {base_url}{API_PATH}",
        f"  server            local/server.py in this process (one execution environment),"
        f" upstream format {args.format}",
        "  mix               50% GET status-only, 40% POST PIN checks (JSON 3:1 form),"
        " 10% bad input (unknown ids 404, malformed 400)",
        f"  warm-up           {args.warmup} requests ({warm_unexpected} unexpected"
        + "".join(f"; {problem} x{n}" for problem, n in warm.unexpected.items())
        + ")",
        f"  requests          {done} recorded (bound {args.requests}), {args.users} users,"
        f" cap {args.max_seconds:g} s (whole Locust run {elapsed:.1f} s)",
        f"  throughput        {float(total['Requests/s']):.1f} requests/s",
        f"  latency (ms)      p50 {total['50%']}   p90 {total['90%']}   p99 {total['99%']}"
        f"   max {float(total['Max Response Time']):.0f}",
    ]
    for name, row in rows.items():
        if name != "Aggregated":
            lines.append(
                f"    {name:<26} {row['Request Count']:>6} requests, {row['Failure Count']}"
                f" unexpected, p50 {row['50%']} ms, p99 {row['99%']} ms"
            )
    lines += [
        f"  unexpected        {unexpected}   (target: 0)"
        + "".join(f"\n    {f['Name']}: {f['Error']} x{f['Occurrences']}" for f in failures),
        f"  memory (VmRSS)    {rss_start:.1f} MiB after warm-up -> {rss_end:.1f} MiB at the end:"
        f" {growth:+.2f} MiB ({growth_mb:+.2f} MB)   (target: < {MEMORY_TARGET_MB:g} MB)",
        f"  report            {os.path.relpath(HTML_REPORT, ROOT)},"
        f" {os.path.relpath(CSV_PREFIX, ROOT)}_*.csv",
        f"  targets           {'met' if met else 'MISSED'}",
    ]
    print("\n".join(lines), file=out, flush=True)
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
