"""Worker: N invocations of one handler in a fresh process, for resource counting.

Run by bench/run.py as `python -m bench.resources OUT.json ours|baseline N`
with stdout sent to /dev/null and AWS_ENDPOINT_URL pointing at the counting
proxy. The orchestrator reads the Secrets Manager and upstream-connection
counts at the servers (proxy, sandbox stats) before and after; this process
only reports what only it can know: its peak RSS.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import build_event, use_function_tree, write_json


def run(target: str, invocations: int) -> dict[str, Any]:
    use_function_tree()
    from local.lambda_runtime import LocalContext  # noqa: PLC0415 (after the sys.path setup)

    if target == "ours":
        from telephone_status.handler import lambda_handler  # noqa: PLC0415
    else:
        from bench.baseline import lambda_handler  # noqa: PLC0415
    failures = 0
    started = time.perf_counter()
    for index in range(invocations):
        result = lambda_handler(build_event(index), LocalContext(10.0))
        if result["statusCode"] != 200 or '"status"' not in result["body"]:
            failures += 1
            if failures == 1:
                print(json.dumps(result)[:500], file=sys.stderr)
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "target": target,
        "invocations": invocations,
        "failures": failures,
        "elapsed_s": round(elapsed, 3),
        "maxrss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
    }


def main(argv: list[str]) -> int:
    out, target, invocations = Path(argv[0]), argv[1], int(argv[2])
    result = run(target, invocations)
    write_json(out, result)
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
