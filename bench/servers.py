"""The benchmark's servers, all on 127.0.0.1: sandbox, AWS emulator, counting proxy.

- The ProxStop sandbox (local/sandbox.py) runs in its own process, so that
  its threads share neither the GIL nor the peak RSS of the process under test.
- moto (local/emulator.py) runs in its own process too.
- `CountingProxy` sits in front of moto and counts, at the server side, the
  requests the code under test makes (by `X-Amz-Target`).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import IO, Final

from bench.common import ROOT

HOST: Final = "127.0.0.1"
_HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}
)


class SandboxProcess:
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

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _readline_within(stream: IO[str], timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        super().__init__((HOST, 0), _ProxyHandler)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = io.DEFAULT_BUFFER_SIZE  # status line, headers and body leave in one write
    server: _ProxyServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_POST(self) -> None:
        self._forward()

    def do_GET(self) -> None:
        self._forward()

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        target = self.headers.get("X-Amz-Target") or f"{self.command} {self.path.split('?')[0]}"
        with self.server.lock:
            self.server.counts[target] += 1
        upstream = http.client.HTTPConnection(*self.server.target, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            upstream.close()


class CountingProxy:
    """A reverse proxy in front of moto counting requests per `X-Amz-Target`."""

    def __init__(self, target_url: str) -> None:
        host_port = target_url.removeprefix("http://").rstrip("/")
        host, _, port = host_port.partition(":")
        self._server = _ProxyServer((host, int(port)))
        self.url = f"http://{HOST}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="counting-proxy",
            daemon=True,
        )
        self._thread.start()

    def reset(self) -> None:
        with self._server.lock:
            self._server.counts.clear()

    def counts(self) -> dict[str, int]:
        with self._server.lock:
            return dict(self._server.counts)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> CountingProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
