"""cProfile of our warm path and of our first (cold) invocation.

    python -m bench.profiling [--invocations 2000] [--functions-dir DIR] [--top 30]

Starts the same servers as `make bench`, then in a worker process (stdout to
/dev/null): imports the handler under cProfile (cold: import + first call),
warms up, and profiles N alternating status/code invocations. Writes
bench/.work/profile-{cold,warm}.pstats and prints the top functions by own
time and by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.common import FUNCTIONS_DIR, ROOT, WORK_DIR, build_event, function_environment
from bench.compare import _servers


def worker(invocations: int) -> int:
    from bench.common import use_function_tree  # noqa: PLC0415

    use_function_tree()
    from local.lambda_runtime import LocalContext  # noqa: PLC0415

    cold_profile = cProfile.Profile()
    cold_profile.enable()
    from telephone_status.handler import lambda_handler  # noqa: PLC0415

    lambda_handler(build_event(0), LocalContext(10.0))
    cold_profile.disable()
    cold_profile.dump_stats(WORK_DIR / "profile-cold.pstats")

    for index in range(1, 101):
        lambda_handler(build_event(index), LocalContext(10.0))
    events = [(build_event(i), LocalContext(60.0)) for i in range(101, 101 + invocations)]
    warm_profile = cProfile.Profile()
    warm_profile.enable()
    for event, context in events:
        lambda_handler(event, context)
    warm_profile.disable()
    warm_profile.dump_stats(WORK_DIR / "profile-warm.pstats")
    return 0


def render(path: Path, sort: str, top: int, per: int) -> str:
    buffer = io.StringIO()
    stats = pstats.Stats(str(path), stream=buffer)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    text = buffer.getvalue()
    if per > 1:
        text = f"(totals over {per} invocations: divide by {per} for per-invocation cost)\n" + text
    return text


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["--worker"]:
        return worker(int(arguments[1]))
    parser = argparse.ArgumentParser(description="Profile our warm path and cold start.")
    parser.add_argument("--invocations", type=int, default=2000)
    parser.add_argument("--functions-dir", type=Path, default=FUNCTIONS_DIR)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(arguments)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    moto, sandbox = _servers()
    try:
        env = function_environment(
            aws_endpoint_url=moto.endpoint_url,
            sandbox_url=sandbox.url,
            moto_url=moto.endpoint_url,
            functions_dir=args.functions_dir.resolve(),
        )
        subprocess.run(
            [sys.executable, "-m", "bench.profiling", "--worker", str(args.invocations)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            check=True,
            timeout=600,
        )
    finally:
        sandbox.stop()
        moto.stop()
    for name, per in (("warm", args.invocations), ("cold", 1)):
        path = WORK_DIR / f"profile-{name}.pstats"
        for sort in ("tottime", "cumulative"):
            print(f"===== {name}: top {args.top} by {sort}")
            print(render(path, sort, args.top, per))
    print(f"pstats files in {os.path.relpath(WORK_DIR, ROOT)}/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
