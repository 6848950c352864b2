"""Worker: warm requests of every warm scenario, each beside its bare reference round trips.

Run by bench/run.py as `python -m bench.warm OUT.json ROUNDS WARMUP`, with the function's
environment and stdout to /dev/null (Logger and Metrics write there: their formatting cost
is measured, terminal I/O is not). Each round sends one request of every scenario in
bench/scenarios.py's WARM; each request and its references run in shuffled order, so that
drift and ordering effects hit all alike. Every answer is checked; a wrong one (a 429
included) stops the run instead of being measured. The warm-up rounds also load what a route
imports on its first call (libphonenumber, on the start route): it is never measured.

Each AWS reference runs twice: raw (urllib3, unsigned) and through a plain boto3 client.
Own overhead = the handler's wall time minus the median total of the scenario's references, the
AWS ones through boto3: the SDK's own work per call (serialising, signing, parsing) is what any
caller of the store pays, not the function's. The same figure against the raw references is
kept beside it: the difference is boto3's share. CPU time is this process's only: the servers
run elsewhere. Own CPU = the handler's CPU time minus the median CPU time of the boto3 block.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import ENV_MOTO_URL, ENV_SANDBOX_URL, summarise, write_json
from bench.scenarios import WARM, Bare

SDK = " via boto3"  # the name of a reference's run through boto3
SHUFFLE = random.Random(0).shuffle


Samples = dict[str, list[float]]
Calls = list[tuple[str, Callable[[], Any]]]


def _timed(samples: Samples, name: str, call: Callable[[], Any]) -> Any:
    wall0 = time.perf_counter_ns()
    answer = call()
    samples[name].append((time.perf_counter_ns() - wall0) / 1e6)
    return answer


def _in_turn(samples: Samples, calls: Calls) -> None:
    """One block of round trips, each timed, in shuffled order."""
    SHUFFLE(calls)
    for name, call in calls:
        _timed(samples, name, call)


def run(rounds: int, warmup: int) -> dict[str, Any]:
    from telephone_status.handler import lambda_handler  # noqa: PLC0415 (PYTHONPATH: functions)

    from local.lambda_runtime import LocalContext  # noqa: PLC0415

    bare = Bare(os.environ[ENV_SANDBOX_URL], os.environ[ENV_MOTO_URL])
    sdk = Bare(os.environ[ENV_SANDBOX_URL], os.environ[ENV_MOTO_URL], through_sdk=True)
    wall: dict[str, Samples] = {s.name: defaultdict(list) for s in WARM}
    cpu: Samples = defaultdict(list)
    warmed: list[str] = []
    for i in range(warmup + rounds):
        if i == warmup:
            warmed = sorted(m for m in ("phonenumbers",) if m in sys.modules)
        for scenario in WARM[i % len(WARM) :] + WARM[: i % len(WARM)]:
            samples: Samples = wall[scenario.name] if i >= warmup else defaultdict(list)
            event = scenario.request(i).event()
            raw: Calls = [(r.name, partial(r.send, bare, i)) for r in scenario.references]
            via_sdk: Calls = [
                (r.name + SDK, partial(r.send, sdk, i))
                if r.store
                else (r.name, partial(r.send, bare, i))
                for r in scenario.references
            ]
            # The function's request and its two blocks of round trips, in shuffled order.
            blocks: Calls = [
                ("ours", partial(lambda_handler, event, LocalContext(10.0))),
                ("raw total", partial(_in_turn, samples, raw)),
                ("sdk total", partial(_in_turn, samples, via_sdk)),
            ]
            SHUFFLE(blocks)
            answer: Any = None
            for name, block in blocks:
                cpu0 = time.process_time_ns()
                result = _timed(samples, name, block)
                if name == "ours":
                    answer = result
                if i >= warmup and name != "raw total":
                    cpu[scenario.name + name].append((time.process_time_ns() - cpu0) / 1e6)
            if answer["statusCode"] != scenario.status or not scenario.check(
                i, json.loads(answer["body"])
            ):
                raise RuntimeError(f"{scenario.name} #{i}: {answer['statusCode']} {answer['body']}")
    result_: dict[str, Any] = {"rounds": rounds, "warmup": warmup, "loaded_in_warmup": warmed}
    for scenario in WARM:
        samples = wall[scenario.name]
        references = {r.name: statistics.median(samples[r.name]) for r in scenario.references}
        through_sdk_p50 = {
            r.name: statistics.median(samples[r.name + SDK if r.store else r.name])
            for r in scenario.references
        }
        # The median of the round trips' total per round, not the sum of their medians: a sum
        # of skewed latencies has a higher median than the medians' sum, and the function's
        # own wall time is such a sum.
        raw_floor = statistics.median(samples["raw total"])
        sdk_floor = statistics.median(samples["sdk total"])
        result_[scenario.name] = {
            "own_overhead_ms": summarise(v - sdk_floor for v in samples["ours"]),
            "own_overhead_raw_ms": summarise(v - raw_floor for v in samples["ours"]),
            "wall_ms": summarise(samples["ours"]),
            "cpu_ms": summarise(cpu[scenario.name + "ours"]),
            # The same in CPU time alone: what this process spends beyond the SDK's own work,
            # free of waiting on the servers (which share this machine's cores).
            "own_cpu_ms": summarise(
                v - statistics.median(cpu[scenario.name + "sdk total"])
                for v in cpu[scenario.name + "ours"]
            ),
            "references_p50_ms": {name: round(v, 3) for name, v in references.items()},
            "through_sdk_p50_ms": {name: round(v, 3) for name, v in through_sdk_p50.items()},
        }
    return result_


if __name__ == "__main__":
    write_json(Path(sys.argv[1]), run(int(sys.argv[2]), int(sys.argv[3])))
