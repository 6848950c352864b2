"""Compares function trees (the real one and scratch copies with a proposed change).

    python -m bench.compare warm functions /tmp/variant-a/functions ...
    python -m bench.compare cold functions /tmp/variant-a/functions ...

warm: one long-lived worker process per tree, driven in alternating blocks of
invocations so that machine drift hits every tree alike; reports wall and CPU
time per invocation. cold: fresh interpreters, trees interleaved round by round.
The first tree is the reference. For trying changes without touching functions/.
A tree argument may carry extra environment variables for its processes:
`PATH,NAME=VALUE,NAME=VALUE` (e.g. to run one tree as if inside Lambda).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from bench import cold
from bench.common import (
    ROOT,
    WORK_DIR,
    build_event,
    function_environment,
    kind_of,
    summarise,
    write_json,
)
from bench.servers import SandboxProcess, start_bench_moto

# --------------------------------------------------------------------------- worker side


def worker() -> int:
    """Reads `run START COUNT` lines on stdin; answers one JSON line per block on fd 3..."""
    from bench.common import use_function_tree  # noqa: PLC0415

    use_function_tree()
    from telephone_status.handler import lambda_handler  # noqa: PLC0415

    from local.lambda_runtime import LocalContext  # noqa: PLC0415

    channel = os.fdopen(int(os.environ["BENCH_READY_FD"]), "w", buffering=1)
    for line in sys.stdin:
        _, start, count = line.split()
        wall: list[float] = []
        cpu: list[float] = []
        kinds: list[str] = []
        for index in range(int(start), int(start) + int(count)):
            event, context = build_event(index), LocalContext(10.0)
            cpu0 = time.process_time_ns()
            wall0 = time.perf_counter_ns()
            result = lambda_handler(event, context)
            wall1 = time.perf_counter_ns()
            cpu1 = time.process_time_ns()
            if result["statusCode"] != 200:
                raise RuntimeError(f"handler answered {result['statusCode']}: {result['body']}")
            wall.append((wall1 - wall0) / 1e6)
            cpu.append((cpu1 - cpu0) / 1e6)
            kinds.append(kind_of(index))
        channel.write(json.dumps({"wall": wall, "cpu": cpu, "kinds": kinds}) + "\n")
    return 0


# --------------------------------------------------------------------------- driver side


class Worker:
    def __init__(self, env: dict[str, str]) -> None:
        read_end, write_end = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.compare", "--worker"],
            cwd=ROOT,
            env={**env, "BENCH_READY_FD": str(write_end)},
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            pass_fds=(write_end,),
        )
        os.close(write_end)
        self.results: IO[str] = os.fdopen(read_end, "r")

    def run(self, start: int, count: int) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(f"run {start} {count}\n")
        self.process.stdin.flush()
        line = self.results.readline()
        if not line:
            raise RuntimeError("worker died")
        result: dict[str, Any] = json.loads(line)
        return result

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(10)
        self.results.close()


def _servers() -> tuple[Any, SandboxProcess]:
    moto = start_bench_moto()
    return moto, SandboxProcess()


Tree = tuple[Path, dict[str, str]]


def parse_tree(spec: str) -> Tree:
    path, *assignments = spec.split(",")
    extra = dict(assignment.split("=", 1) for assignment in assignments)
    return Path(path).resolve(), extra


def _label(tree: Tree) -> str:
    path, extra = tree
    suffix = f" +{len(extra)} env" if extra else ""
    return f"{path.parent.name}/{path.name}{suffix}"


def _env(tree: Tree, moto_url: str, sandbox_url: str) -> dict[str, str]:
    env = function_environment(
        aws_endpoint_url=moto_url, sandbox_url=sandbox_url, moto_url=moto_url, functions_dir=tree[0]
    )
    env.update(tree[1])
    return env


def compare_warm(
    trees: Sequence[Tree], blocks: int, block_size: int, warmup: int
) -> dict[str, Any]:
    moto, sandbox = _servers()
    workers: list[Worker] = []
    try:
        for tree in trees:
            workers.append(Worker(_env(tree, moto.endpoint_url, sandbox.url)))
        for worker_ in workers:
            worker_.run(0, warmup)
        samples: list[dict[str, list[Any]]] = [{"wall": [], "cpu": [], "kinds": []} for _ in trees]
        for block in range(blocks):
            order = list(range(len(trees)))
            if block % 2:
                order.reverse()
            for position in order:
                # The same requests for every tree: block `block` covers the same indexes.
                result = workers[position].run(warmup + block * block_size, block_size)
                for key in ("wall", "cpu", "kinds"):
                    samples[position][key].extend(result[key])
    finally:
        for worker_ in workers:
            worker_.stop()
        sandbox.stop()
        moto.stop()
    report: dict[str, Any] = {}
    for tree, sample in zip(trees, samples, strict=True):
        entry: dict[str, Any] = {}
        for label in ("all", "status", "code"):
            picked = [i for i, k in enumerate(sample["kinds"]) if label in ("all", k)]
            entry[label] = {
                "wall_ms": summarise(sample["wall"][i] for i in picked),
                "cpu_ms": summarise(sample["cpu"][i] for i in picked),
            }
        report[_label(tree)] = entry
    return report


def compare_cold(trees: Sequence[Tree], runs: int) -> dict[str, Any]:
    moto, sandbox = _servers()
    event_path = WORK_DIR / "cold-event.json"
    write_json(event_path, build_event(0))
    labels = [_label(tree) for tree in trees]
    walls: dict[str, list[float]] = {label: [] for label in labels}
    firsts: dict[str, list[float]] = {label: [] for label in labels}
    imports: dict[str, list[float]] = {label: [] for label in labels}
    try:
        envs = []
        for tree in trees:
            env = _env(tree, moto.endpoint_url, sandbox.url)
            if "PYTHONPYCACHEPREFIX" not in tree[1]:  # default: bytecode cached
                env.pop("PYTHONDONTWRITEBYTECODE", None)
                env["PYTHONPYCACHEPREFIX"] = str(WORK_DIR / "pycache")
            envs.append(env)
        for round_number in range(runs + 1):
            order = list(range(len(trees)))
            if round_number % 2:
                order.reverse()
            for position in order:
                report = cold.spawn_once("ours", envs[position], event_path, timeout=60)
                if round_number:
                    walls[labels[position]].append(report["wall_ms"])
                    imports[labels[position]].append(report["import_ms"])
                    firsts[labels[position]].append(report["first_invoke_ms"])
    finally:
        sandbox.stop()
        moto.stop()
    return {
        tree: {
            "median_ms": round(statistics.median(walls[tree]), 1),
            "import_median_ms": round(statistics.median(imports[tree]), 1),
            "first_invoke_median_ms": round(statistics.median(firsts[tree]), 1),
        }
        for tree in walls
    }


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments == ["--worker"]:
        return worker()
    parser = argparse.ArgumentParser(description="Compare function trees.")
    parser.add_argument("mode", choices=("warm", "cold"))
    parser.add_argument("trees", nargs="+", type=parse_tree, help="PATH[,NAME=VALUE...]")
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--block-size", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(arguments)
    trees: list[Tree] = args.trees
    started = time.monotonic()
    if args.mode == "warm":
        report = compare_warm(trees, args.blocks, args.block_size, args.warmup)
        print(f"{'tree':<50} {'kind':<7} {'wall p50':>9} {'p90':>7} {'p99':>7} "
              f"{'cpu p50':>8} {'p90':>7} {'p99':>7}")  # fmt: skip
        for tree, entry in report.items():
            for label, stats in entry.items():
                wall, cpu = stats["wall_ms"], stats["cpu_ms"]
                print(
                    f"{tree[:50]:<50} {label:<7} {wall['p50']:>9.3f} {wall['p90']:>7.3f} "
                    f"{wall['p99']:>7.3f} {cpu['p50']:>8.3f} {cpu['p90']:>7.3f} {cpu['p99']:>7.3f}"
                )
    else:
        report = compare_cold(trees, args.runs)
        for tree, entry in report.items():
            print(f"{tree[:50]:<50} {json.dumps(entry)}")
    out = WORK_DIR / f"compare-{args.mode}.json"
    write_json(out, report)
    print(f"({time.monotonic() - started:.0f} s; {os.path.relpath(out, ROOT)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
