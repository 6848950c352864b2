"""Worker: warm requests of every warm scenario, each beside its bare reference round trips.

Run by bench/run.py as `python -m bench.warm OUT.json ROUNDS WARMUP`, with the function's
environment and stdout to /dev/null (Logger and Metrics write there: their formatting cost
is measured, terminal I/O is not). Each round sends one request of every scenario in
bench/scenarios.py's WARM; each request and its two blocks of references run in shuffled
order, so that ordering effects hit all alike. Every answer is checked; a wrong one (a 429
included) stops the run instead of being measured. The warm-up rounds also load what a route
imports on its first call (libphonenumber, on the start route): it is never measured.

Each AWS reference runs twice: raw (urllib3, unsigned) and through a plain boto3 client; a
block runs its references in the function's order, on items of its own, so that it creates
and updates items as the function does. Own overhead = the handler's wall time minus the
boto3 block's of the same round, pair by pair (the two ran back to back: the emulator's drift
over a run, as its table grows or the machine's load moves, cancels in each pair), summarised
over the rounds. The SDK's own work per call (serialising, signing, parsing) is what any caller
of the store pays, not the function's. The same figure against the raw block is kept beside
it: the difference is boto3's share. CPU time is this process's only: the servers run
elsewhere. Own CPU and own waiting (wall minus CPU) are paired the same way; own waiting near
zero says the handler waited on the servers no longer than its references did, so its
overhead is its own work.
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
    """One block of round trips, each timed, in the function's order."""
    for name, call in calls:
        _timed(samples, name, call)


def _paired(ours: list[float], block: list[float]) -> dict[str, float]:
    """The handler's figure minus its block's of the same round, over the rounds."""
    return summarise(o - b for o, b in zip(ours, block, strict=True))


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
        samples, name = wall[scenario.name], scenario.name
        references = {r.name: statistics.median(samples[r.name]) for r in scenario.references}
        through_sdk_p50 = {
            r.name: statistics.median(samples[r.name + SDK if r.store else r.name])
            for r in scenario.references
        }
        waits = {
            block: [w - c for w, c in zip(samples[block], cpu[name + block], strict=True)]
            for block in ("ours", "sdk total")
        }
        result_[name] = {
            "own_overhead_ms": _paired(samples["ours"], samples["sdk total"]),
            "own_overhead_raw_ms": _paired(samples["ours"], samples["raw total"]),
            "wall_ms": summarise(samples["ours"]),
            "cpu_ms": summarise(cpu[name + "ours"]),
            # The same in CPU time alone, and what is left of the wall time: waiting on the
            # servers (which share this machine's cores) longer than the references did.
            "own_cpu_ms": _paired(cpu[name + "ours"], cpu[name + "sdk total"]),
            "own_wait_ms": _paired(waits["ours"], waits["sdk total"]),
            "references_p50_ms": {n: round(v, 3) for n, v in references.items()},
            "through_sdk_p50_ms": {n: round(v, 3) for n, v in through_sdk_p50.items()},
        }
    return result_


if __name__ == "__main__":
    write_json(Path(sys.argv[1]), run(int(sys.argv[2]), int(sys.argv[3])))
