"""`make load`: a bounded Locust run against the local API server. Prints figures; not a test.

Starts, like `make run` (local/dev.py): moto, the ProxStop sandbox and the local API server on
free ports of 127.0.0.1, the server in this process (one execution environment, one request at
a time). After a warm-up (every load scenario in turn, each answer checked), Locust runs
headless in a subprocess (bench/locustfile.py: the rows of bench/scenarios.py with a load
weight), bounded by users, requests and time. PIN limits are at their maxima; starts are on
(US, and make run's test number) with the fraud guard's limits raised (bench/common.py): a 429
is unexpected, never measured. Prints requests/s, latency percentiles, counts per scenario,
unexpected outcomes and the growth of this process's resident memory (the handler's) from the
end of the warm-up to the end of the run; targets in bench/targets.py. Locust's CSV files and
HTML report go to bench/.work/ (git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final
from urllib.parse import urlencode

import urllib3

from bench import targets
from bench.common import (
    MAX_CODE_ATTEMPTS,
    MAX_CODE_CHECKS,
    ROOT,
    START_ENVIRONMENT,
    WORK_DIR,
    loopback_environment,
)
from bench.scenarios import SCENARIOS

CSV_PREFIX: Final = WORK_DIR / "load"
HTML_REPORT: Final = WORK_DIR / "load-report.html"
LOADED: Final = tuple(s for s in SCENARIOS if s.load_weight)


def rss_mib() -> float:
    """This process's resident set size now (VmRSS, Linux), in MiB."""
    gc.collect()
    status = Path("/proc/self/status").read_text(encoding="ascii")
    return next(
        int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")
    )


@contextlib.contextmanager
def quiet_stdout() -> Iterator[IO[str]]:
    """The handler's logs and EMF metrics go to stdout: drop them, keep the report's stream."""
    report = sys.stdout
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        sys.stdout = devnull
        try:
            yield report
        finally:
            sys.stdout = report


def warm_up(base_url: str, rounds: int) -> list[str]:
    """Every load scenario in turn, `rounds` times; returns the unexpected answers."""
    pool, problems = urllib3.PoolManager(retries=False, timeout=30.0), []
    for i in range(rounds):
        for scenario in LOADED:
            request = scenario.request(i)
            query = urlencode(request.query)
            response = pool.request(
                request.method,
                f"{base_url}{request.path}?{query}",
                body=request.body,
                headers=dict(request.headers),
            )
            if response.status != scenario.status:
                problems.append(f"{scenario.name}: HTTP {response.status}")
    return problems


def run_locust(base_url: str, users: int, requests: int, max_seconds: float) -> None:
    """Locust, headless, in its own process (it monkey-patches the standard library)."""
    env = {**loopback_environment(), "LOAD_REQUESTS": str(requests), "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(Path(__file__).with_name("locustfile.py")),
        "--headless",
        "--host",
        base_url,
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{max(1, math.ceil(max_seconds))}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(CSV_PREFIX),
        "--html",
        str(HTML_REPORT),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    done = subprocess.run(
        command,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=max_seconds + 120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"locust failed ({done.returncode}):\n{done.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests to send (3000)")
    parser.add_argument("--users", type=int, default=8, help="concurrent Locust users (8)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time cap (60)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up rounds (50)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if min(args.requests, args.users, args.max_seconds) <= 0:
        parser.error("--requests, --users and --max-seconds must be positive")
    from local.dev import local_stack  # noqa: PLC0415 (boto3: slow to import)
    from local.server import serve  # noqa: PLC0415

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    print("Starting moto, the ProxStop sandbox and the local API server...", flush=True)
    # local_stack leaves these as they are: PIN limits at their maxima, starts on (US) with
    # the fraud guard's limits raised, as in the warm bench.
    os.environ.update({"MAX_CODE_CHECKS": str(MAX_CODE_CHECKS), **START_ENVIRONMENT})
    with (
        local_stack(
            max_code_attempts=str(MAX_CODE_ATTEMPTS), external_upstream=False, starts=True
        ) as stack,
        quiet_stdout() as out,
    ):
        assert stack.sandbox is not None  # external_upstream=False: always started
        api = serve(0, quiet=True)
        try:
            warm_problems = warm_up(api.url, args.warmup)
            # The sandbox journals every request (for tests): cleared, so RSS is the handler's.
            stack.sandbox.reset()
            rss_start = rss_mib()
            run_locust(api.url, args.users, args.requests, args.max_seconds)
            stack.sandbox.reset()
            rss_end = rss_mib()
        finally:
            api.stop()
    with open(f"{CSV_PREFIX}_stats.csv", encoding="utf-8", newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    with open(f"{CSV_PREFIX}_failures.csv", encoding="utf-8", newline="") as handle:
        failures = list(csv.DictReader(handle))
    total = rows.pop("Aggregated")
    unexpected = int(total["Failure Count"]) + len(warm_problems)
    growth_mb = (rss_end - rss_start) * 1.048576
    met = (
        unexpected <= targets.LOAD_UNEXPECTED
        and growth_mb < targets.LOAD_MEMORY_GROWTH_MB
        and int(total["Request Count"]) > 0
    )
    lines = [
        f"\nLocust against {api.url}: {total['Request Count']} requests (bound {args.requests}),"
        f" {args.users} users, cap {args.max_seconds:g} s, after {args.warmup} warm-up rounds",
        f"  throughput   {float(total['Requests/s']):.1f} requests/s",
        f"  latency      p50 {total['50%']} ms, p90 {total['90%']} ms, p99 {total['99%']} ms,"
        f" max {float(total['Max Response Time']):.0f} ms",
        *(
            f"    {name:<24} {row['Request Count']:>6} requests, {row['Failure Count']} unexpected,"
            f" p50 {row['50%']} ms, p99 {row['99%']} ms"
            for name, row in rows.items()
        ),
        f"  unexpected   {unexpected} (target: {targets.LOAD_UNEXPECTED})",
        *(f"    warm-up {problem}" for problem in warm_problems[:10]),
        *(f"    {f['Name']}: {f['Error']} x{f['Occurrences']}" for f in failures),
        f"  memory       VmRSS {rss_start:.1f} -> {rss_end:.1f} MiB: {growth_mb:+.2f} MB"
        f" (target: < {targets.LOAD_MEMORY_GROWTH_MB:g} MB)",
        f"  report       {HTML_REPORT.relative_to(ROOT)}, {CSV_PREFIX.relative_to(ROOT)}_*.csv",
        f"  targets      {'met' if met else 'MISSED'}",
    ]
    print("\n".join(lines), file=out, flush=True)
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
