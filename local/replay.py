"""Replays API Gateway sample events through the handler, as `sam local invoke` would.

`python -m local.replay [events/x.json ...]` (default: every file in events/)
starts the emulator and the sandbox like `make run`, invokes the handler once
per event with a Lambda-like context and prints each status code and body.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from local.dev import local_stack
from local.lambda_runtime import invoke

EVENTS = Path(__file__).resolve().parent.parent / "events"


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or sorted(EVENTS.glob("*.json"))
    # The handler's JSON logs would bury the answers; POWERTOOLS_LOG_LEVEL=INFO brings them back.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    with local_stack(starts=True):  # the start events need the route on, as in `make run`
        for path in paths:
            result = invoke(json.loads(path.read_text()))
            print(f"== {path.name}: HTTP {result['statusCode']}")
            print(json.dumps(json.loads(result["body"]), indent=2) if result.get("body") else "")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
