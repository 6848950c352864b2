"""One cold start, in the fresh interpreter bench/cold.py spawns: import, then first response.

Standard library only, on purpose: whatever this imports before the handler would count as
the handler's cold start (local/lambda_runtime.py's context would pull in Powertools early).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, cast


class ColdContext:
    """The Lambda context's fields the function reads, with a 10 s deadline."""

    function_name = "telephone-status"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:telephone-status"
    memory_limit_in_mb = 256
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    log_group_name = "/aws/lambda/telephone-status"
    log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
    identity = None
    client_context = None

    def __init__(self) -> None:
        self._deadline = time.monotonic() + 10.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(event_path: str) -> None:
    started = time.perf_counter()
    from telephone_status.handler import lambda_handler  # noqa: PLC0415

    imported = time.perf_counter()
    with open(event_path, encoding="utf-8") as handle:
        # The context is a duck type of LambdaContext.
        result = lambda_handler(json.load(handle), cast(Any, ColdContext()))
    done = time.perf_counter()
    report = {
        "import_ms": (imported - started) * 1000,
        "first_invoke_ms": (done - imported) * 1000,
        "status_code": result.get("statusCode"),
    }
    os.write(int(os.environ["BENCH_READY_FD"]), (json.dumps(report) + "\n").encode())
