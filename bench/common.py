"""Shared by the benchmark's orchestrator and its workers: paths, environment, statistics,
and the servers (moto and the ProxStop sandbox, each in its own process, on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import json
import os
import select
import statistics
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
WORK_DIR: Final = ROOT / "bench" / ".work"  # git-ignored: results, events, the twin asset
FUNCTIONS_DIR: Final = ROOT / "functions"

SECRET_NAME: Final = "bench/proxstop-api-key"
TABLE_NAME: Final = "bench-telephone-status-attempts"
REGION: Final = "us-east-1"
# The highest the settings accept: PIN checks rotate over 100 reference ids, so a whole run
# stays far below both, and any 429 is a fault that stops the run instead of being measured.
MAX_CODE_ATTEMPTS: Final = 1000
MAX_CODE_CHECKS: Final = 10_000
# Starts (US only, like dev): the fraud guard's limits raised so that it never refuses the
# bench's numbers (bench/scenarios.py spreads them too); a refusal stops the run.
START_LIMITS: Final = {
    "MAX_SENDS_PER_PHONE": 1000,
    "MIN_SEND_INTERVAL_SECONDS": 0,
    "MAX_SENDS_PER_PREFIX": 10_000,
    "MAX_SENDS_PER_HOUR": 100_000_000,
}
START_ENVIRONMENT: Final = {"START_COUNTRIES": "US", **{k: str(v) for k, v in START_LIMITS.items()}}
# Where the workers find the servers, for their bare reference round trips.
ENV_SANDBOX_URL: Final = "BENCH_SANDBOX_URL"
ENV_MOTO_URL: Final = "BENCH_MOTO_URL"
_START_SETTINGS: Final = (
    *("MIN_SEND_INTERVAL_SECONDS", "TEST_NUMBERS", "CODE_LENGTH"),
    *("VERIFICATION_TTL_SECONDS", "ACCEPT_EXTERNAL_REFERENCES"),
)
_SANDBOX_CHILD: Final = (
    "import sys; from local.sandbox import DEFAULT_KEY, start_sandbox; "
    "s = start_sandbox(0, DEFAULT_KEY); print(s.url, flush=True); sys.stdin.read(); s.stop()"
)


def loopback_environment() -> dict[str, str]:
    """This process's environment without proxies or settings of the function or AWS."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        and not name.startswith(("AWS_", "POWERTOOLS_", "TOKEN_", "MAX_", "PROXSTOP_", "START_"))
        and name not in _START_SETTINGS
    }
    return {**env, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def function_environment(sandbox_url: str, moto_url: str) -> dict[str, str]:
    """A worker's environment: the function's variables (tokens off, starts on), pointed at
    the servers."""
    from local.emulator import local_aws_environment  # noqa: PLC0415 (boto3: slow to import)

    return {
        **loopback_environment(),
        **local_aws_environment(moto_url, REGION),
        "PROXSTOP_SECRET_ID": SECRET_NAME,
        "PROXSTOP_API_URL": sandbox_url,
        "PROXSTOP_FORMAT": "json",
        "ATTEMPTS_TABLE_NAME": TABLE_NAME,
        "MAX_CODE_ATTEMPTS": str(MAX_CODE_ATTEMPTS),
        "MAX_CODE_CHECKS": str(MAX_CODE_CHECKS),
        **START_ENVIRONMENT,
        "POWERTOOLS_SERVICE_NAME": "telephone-status",
        "POWERTOOLS_METRICS_NAMESPACE": "TelephoneStatus",
        ENV_SANDBOX_URL: sandbox_url,
        ENV_MOTO_URL: moto_url,
        "PYTHONPATH": os.pathsep.join([str(FUNCTIONS_DIR), str(ROOT)]),
    }


def summarise(values: Iterable[float]) -> dict[str, float]:
    """p50/p90/p99 and count of samples in milliseconds, rounded to the microsecond."""
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "p50": round(cuts[49], 3),
        "p90": round(cuts[89], 3),
        "p99": round(cuts[98], 3),
        "n": len(ordered),
    }


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def cpu_split() -> tuple[set[int], set[int]] | None:
    """(the worker's CPUs, the servers' CPUs), or None on a machine with fewer than two.

    The function runs on a core of its own in Lambda, and DynamoDB and ProxStop elsewhere:
    here the worker gets the first CPU and the emulators the rest, so that moto (a CPU-bound
    Python server) never takes the worker's core while it is measured.
    """
    cpus = sorted(os.sched_getaffinity(0))
    return ({cpus[0]}, set(cpus[1:])) if len(cpus) >= 2 else None


def pin(pid: int, which: int) -> None:
    """Pins process `pid` to its side of cpu_split() (0: the worker, 1: the servers)."""
    if (split := cpu_split()) is not None:
        os.sched_setaffinity(pid, split[which])


def run_worker(module: str, args: Sequence[str], env: Mapping[str, str], timeout: float) -> None:
    """`python -m module args` in a fresh interpreter on the worker's CPU; its stdout (the
    function's logs) dropped."""
    with subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as worker:
        pin(worker.pid, 0)  # before its imports: the start-up takes milliseconds at least
        try:
            _, stderr = worker.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            worker.kill()
            raise
    if worker.returncode != 0:
        raise RuntimeError(f"{module} failed ({worker.returncode}):\n{stderr[-3000:]}")


def _stop(process: subprocess.Popen[str]) -> None:
    try:
        process.communicate(timeout=10)  # closes its stdin: it stops
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


@contextlib.contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """(sandbox URL, moto URL): each server in a process of its own, so that neither shares
    the GIL or the memory of the process under test; moto holds the secret and the table."""
    from local.emulator import provision, start_moto  # noqa: PLC0415 (boto3: slow to import)
    from local.sandbox import DEFAULT_KEY  # noqa: PLC0415

    with contextlib.ExitStack() as running:
        moto = running.enter_context(start_moto())
        provision(
            moto.endpoint_url,
            secret_name=SECRET_NAME,
            table_name=TABLE_NAME,
            secret_value=DEFAULT_KEY,
            region=REGION,
        )
        sandbox = subprocess.Popen(
            [sys.executable, "-c", _SANDBOX_CHILD],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        running.callback(_stop, sandbox)
        pin(moto.process.pid, 1)
        pin(sandbox.pid, 1)
        assert sandbox.stdout is not None
        ready, _, _ = select.select([sandbox.stdout], [], [], 20)
        url = sandbox.stdout.readline().strip() if ready else ""
        if not url.startswith("http://127.0.0.1:"):
            sandbox.kill()
            raise RuntimeError(f"the sandbox did not start: {url!r}")
        yield url, moto.endpoint_url
