"""Worker: warm requests of every warm scenario, each beside its bare reference round trips.

Run by bench/run.py as `python -m bench.warm OUT.json ROUNDS WARMUP`, with the function's
environment and stdout to /dev/null (Logger and Metrics write there: their formatting cost
is measured, terminal I/O is not). Each round sends one request of every scenario in
bench/scenarios.py's WARM; each request and its references run in shuffled order, so that
drift and ordering effects hit all alike. Every answer is checked; a wrong one (a 429
included) stops the run instead of being measured. The warm-up rounds also load what a route
imports on its first call (libphonenumber, on the start route): it is never measured.

Own overhead = the handler's wall time minus the medians of the scenario's bare references.
CPU time is this process's only: the servers run elsewhere, so it is the function's own work.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import ENV_MOTO_URL, ENV_SANDBOX_URL, summarise, write_json
from bench.scenarios import WARM, Bare


def run(rounds: int, warmup: int) -> dict[str, Any]:
    from telephone_status.handler import lambda_handler  # noqa: PLC0415 (PYTHONPATH: functions)

    from local.lambda_runtime import LocalContext  # noqa: PLC0415

    bare = Bare(os.environ[ENV_SANDBOX_URL], os.environ[ENV_MOTO_URL])
    shuffle = random.Random(0).shuffle
    wall: dict[str, dict[str, list[float]]] = {
        s.name: {"ours": [], **{r.name: [] for r in s.references}} for s in WARM
    }
    cpu: dict[str, list[float]] = {s.name: [] for s in WARM}
    warmed: list[str] = []
    for i in range(warmup + rounds):
        if i == warmup:
            warmed = sorted(m for m in ("phonenumbers",) if m in sys.modules)
        for scenario in WARM[i % len(WARM) :] + WARM[: i % len(WARM)]:
            answer: dict[str, Any] = {}
            calls: list[tuple[str, Callable[[], Any]]] = [
                ("ours", partial(lambda_handler, scenario.request(i).event(), LocalContext(10.0))),
                *((r.name, partial(r.send, bare, i)) for r in scenario.references),
            ]
            shuffle(calls)
            for name, call in calls:
                cpu0, wall0 = time.process_time_ns(), time.perf_counter_ns()
                answer[name] = call()
                wall1, cpu1 = time.perf_counter_ns(), time.process_time_ns()
                if i >= warmup:
                    wall[scenario.name][name].append((wall1 - wall0) / 1e6)
                    if name == "ours":
                        cpu[scenario.name].append((cpu1 - cpu0) / 1e6)
            ours = answer["ours"]
            if ours["statusCode"] != scenario.status or not scenario.check(
                i, json.loads(ours["body"])
            ):
                raise RuntimeError(f"{scenario.name} #{i}: {ours['statusCode']} {ours['body']}")
    result: dict[str, Any] = {"rounds": rounds, "warmup": warmup, "loaded_in_warmup": warmed}
    for scenario in WARM:
        samples = wall[scenario.name]
        references = {r.name: statistics.median(samples[r.name]) for r in scenario.references}
        floor = sum(references.values())
        result[scenario.name] = {
            "own_overhead_ms": summarise(v - floor for v in samples["ours"]),
            "wall_ms": summarise(samples["ours"]),
            "cpu_ms": summarise(cpu[scenario.name]),
            "references_p50_ms": {name: round(v, 3) for name, v in references.items()},
        }
    return result


if __name__ == "__main__":
    write_json(Path(sys.argv[1]), run(int(sys.argv[2]), int(sys.argv[3])))
