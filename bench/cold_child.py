"""One cold start, in the fresh interpreter bench/cold.py spawns: import, then first response.

Kept to the standard library and tiny on purpose: anything imported here
before the handler would be counted as the handler's cold start. The context
is a minimal stand-in with LocalContext's fields (local/lambda_runtime.py would
pull in modules the real Lambda runtime does not load).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, cast


class ColdContext:
    function_name = "telephone-status-local"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:telephone-status-local"
    memory_limit_in_mb = 256
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    log_group_name = "/aws/lambda/telephone-status-local"
    log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
    identity = None
    client_context = None

    def __init__(self) -> None:
        self._deadline = time.monotonic() + 10.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def report(payload: dict[str, Any]) -> None:
    descriptor = int(os.environ["BENCH_READY_FD"])
    os.write(descriptor, (json.dumps(payload) + "\n").encode())


def main(target: str, event_path: str) -> None:
    started = time.perf_counter()
    if target == "ours":
        from telephone_status.handler import lambda_handler  # noqa: PLC0415
    else:
        from bench.baseline import lambda_handler  # noqa: PLC0415
    imported = time.perf_counter()
    with open(event_path, encoding="utf-8") as handle:
        event = json.load(handle)
    result = lambda_handler(event, cast(Any, ColdContext()))  # the context's duck type
    done = time.perf_counter()
    report(
        {
            "import_ms": (imported - started) * 1000,
            "first_invoke_ms": (done - imported) * 1000,
            "status_code": result.get("statusCode"),
        }
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")
