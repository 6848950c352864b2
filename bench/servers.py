"""The benchmark's servers, all on 127.0.0.1: sandbox, AWS emulator, counting proxy.

- The ProxStop sandbox (local/sandbox.py) runs in its own process, so that
  its threads share neither the GIL nor the peak RSS of the process under test.
- moto (local/emulator.py) runs in its own process too (`start_bench_moto`).
- `CountingProxy` (local/aws_proxy.py's `AwsProxy`, as the integration tests
  use it) sits in front of moto and counts, at the server side, the requests
  the code under test makes (by `X-Amz-Target`).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING

from bench.common import REGION, ROOT, SANDBOX_KEY, SECRET_NAME, TABLE_NAME
from local.lifecycle import Stoppable

if TYPE_CHECKING:
    from local.emulator import MotoServer


def start_bench_moto() -> MotoServer:
    """moto on a free port, provisioned with the bench's secret (the sandbox key) and table."""
    # Imported here: boto3 is slow to import, and bench.compare's workers import this module.
    from local.emulator import provision, start_moto  # noqa: PLC0415

    moto = start_moto()
    try:
        provision(
            moto.endpoint_url,
            secret_name=SECRET_NAME,
            secret_value=SANDBOX_KEY,
            table_name=TABLE_NAME,
            region=REGION,
        )
    except BaseException:
        moto.stop()
        raise
    return moto


class SandboxProcess(Stoppable):
    """`python -m bench.sandbox_proc`: the sandbox in a child that ends when its stdin closes."""

    def __init__(self, startup_timeout: float = 20.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.sandbox_proc"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
        )
        assert self.process.stdout is not None
        line = _readline_within(self.process.stdout, startup_timeout)
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"sandbox did not start: {line!r}")
        self.url = line.strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                if self.process.stdin is not None:
                    self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _readline_within(stream: IO[str], timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""
