"""Runs the ProxStop sandbox for the benchmark; prints its URL, stops when stdin closes.

A process of its own, so that the sandbox's threads share neither the GIL nor
the peak RSS of the process under test. Keep-alive answers are only instant
because local/httpbase.py sets TCP_NODELAY (without it every request on a
kept-alive connection waits ~40 ms for a delayed ACK); bench/run.py warns when
the bare round trip says otherwise.
"""

from __future__ import annotations

import contextlib
import sys

from local import sandbox


def main() -> int:
    server = sandbox.start_sandbox(0, sandbox.DEFAULT_KEY)
    print(server.url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sys.stdin.read()  # EOF: the orchestrator is done (or gone)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
