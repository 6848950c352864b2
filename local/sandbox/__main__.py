"""``python -m local.sandbox``: run the sandbox on 127.0.0.1, or print its fault table."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from local.sandbox.documents import DEFAULT_KEY, PIN, VENDOR_REFERENCE, status_reference
from local.sandbox.faults import markdown_table
from local.sandbox.server import start_sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local ProxStop telephonestatus sandbox.")
    parser.add_argument("--port", type=int, default=8100, help="port on 127.0.0.1 (0 = any)")
    parser.add_argument(
        "--key",
        default=os.environ.get("SANDBOX_KEY", DEFAULT_KEY),
        help="API key to accept (default: $SANDBOX_KEY or the vendor's published example key)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    parser.add_argument(
        "--faults", action="store_true", help="print the fault table as Markdown and exit"
    )
    args = parser.parse_args(argv)
    if args.faults:
        sys.stdout.write(markdown_table())
        return 0
    try:
        sandbox = start_sandbox(args.port, args.key, verbose=not args.quiet)
    except OSError as error:
        print(f"sandbox: cannot listen on 127.0.0.1:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(f"ProxStop sandbox on {sandbox.url}  (endpoints /telephonestatus.json|.xml)")
    print(f"  vendor example reference: {VENDOR_REFERENCE} (PIN {PIN})")
    print(f"  any status NNN:           {status_reference(103)[:-3]}NNN")
    print(f"  faults:                   {sandbox.url}/_sandbox/faults")
    sys.stdout.flush()
    while not done.wait(1.0):
        pass
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
