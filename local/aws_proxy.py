"""`AwsProxy`: a counting HTTP proxy on 127.0.0.1 in front of the AWS emulator (moto).

Used by the integration tests and the benchmark to count, at the server side,
the AWS requests the code under test makes (by `X-Amz-Target`), and by the
tests to cut AWS off on demand (`stop()`: connections refused), to make one
service slow (`delay`) or make it accept requests and never answer (`stall`).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import threading
from collections import Counter
from typing import Final
from urllib.parse import urlsplit

from local.httpbase import LISTEN_HOST, TrackedHandler, TrackingHTTPServer
from local.lifecycle import Stoppable

GET_SECRET_VALUE: Final = "secretsmanager.GetSecretValue"  # noqa: S105 (an API name)
UPDATE_ITEM: Final = "DynamoDB_20120810.UpdateItem"

_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
        "date",
        "server",
    }
)


class _ProxyServer(TrackingHTTPServer):
    # socketserver's default backlog (5) drops SYNs under 20 concurrent clients, and a
    # dropped SYN is retried after 1 s: a stall that is the proxy's, not the code's.
    request_queue_size = 128

    def __init__(self, upstream: str, *, serialise_dynamodb: bool, upstream_timeout: float) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or LISTEN_HOST
        self.upstream_port = parts.port or 80
        self.upstream_timeout = upstream_timeout
        self.serialise_dynamodb = serialise_dynamodb
        self.dynamodb_lock = threading.Lock()
        self.counts_lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        # X-Amz-Target prefix -> seconds to wait before forwarding; None: never answer.
        self.slow: dict[str, float | None] = {}
        # X-Amz-Target prefix -> the AWS error code to answer with instead of forwarding.
        self.refused: dict[str, tuple[int, str]] = {}
        super().__init__((LISTEN_HOST, 0), _ProxyHandler, keep_alive_timeout=30.0)


class _ProxyHandler(TrackedHandler):
    wbufsize = io.DEFAULT_BUFFER_SIZE  # status line, headers and body leave in one write
    server: _ProxyServer

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._forward()

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        self._forward()

    def _answer_error(self, status: int, code: str) -> None:
        # The JSON protocol's error shape (Secrets Manager, DynamoDB, KMS): botocore reads
        # the code from `__type`.
        payload = json.dumps({"__type": code, "message": "refused by the test proxy"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target") or f"{self.command} {urlsplit(self.path).path}"
        with self.server.counts_lock:
            self.server.counts[target] += 1
            slow = [v for prefix, v in self.server.slow.items() if target.startswith(prefix)]
            refused = [v for p, v in self.server.refused.items() if target.startswith(p)]
        if refused:
            self._answer_error(*refused[0])
            return
        if slow:
            # A stalled service keeps the connection open, unanswered, until stop().
            pause = slow[0]
            self.server.stopping.wait(pause)
            if pause is None or self.server.stopping.is_set():
                self.close_connection = True
                return
        serialised = self.server.serialise_dynamodb and target.startswith("DynamoDB_")
        guard = self.server.dynamodb_lock if serialised else contextlib.nullcontext()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        server = self.server
        connection = http.client.HTTPConnection(
            server.upstream_host, server.upstream_port, timeout=server.upstream_timeout
        )
        try:
            with guard:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
        except OSError:
            self.send_error(502)
            return
        finally:
            connection.close()
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class AwsProxy(Stoppable):
    """A counting HTTP proxy on 127.0.0.1 in front of the AWS emulator.

    Point `AWS_ENDPOINT_URL` at `url`; `count(GET_SECRET_VALUE)` then tells how
    many such requests reached the server. `stop()` makes AWS unreachable
    (connections refused) from then on; `with AwsProxy(...) as proxy:` stops it
    on the way out.

    `serialise_dynamodb=True` forwards DynamoDB requests one at a time: moto's
    conditional `update_item` is not atomic under concurrent requests (lost
    updates), whereas DynamoDB's is; this restores DynamoDB's per-item
    atomicity without changing what the function does.
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        serialise_dynamodb: bool = False,
        upstream_timeout: float = 10.0,
    ) -> None:
        self._server = _ProxyServer(
            upstream_url, serialise_dynamodb=serialise_dynamodb, upstream_timeout=upstream_timeout
        )
        self._server.start("aws-proxy")
        self.url = self._server.url

    def count(self, target: str) -> int:
        with self._server.counts_lock:
            return self._server.counts[target]

    def counts(self) -> Counter[str]:
        with self._server.counts_lock:
            return Counter(self._server.counts)

    def delay(self, target_prefix: str, seconds: float) -> None:
        """Requests whose X-Amz-Target starts with `target_prefix` wait `seconds` first."""
        with self._server.counts_lock:
            self._server.slow[target_prefix] = seconds

    def stall(self, target_prefix: str) -> None:
        """Such requests are accepted and read, and never answered (a hung endpoint)."""
        with self._server.counts_lock:
            self._server.slow[target_prefix] = None

    def refuse(self, target_prefix: str, code: str, status: int = 400) -> None:
        """Such requests are answered with the AWS error `code` (e.g. AccessDeniedException)."""
        with self._server.counts_lock:
            self._server.refused[target_prefix] = (status, code)

    def reset(self) -> None:
        """Forgets the counts so far."""
        with self._server.counts_lock:
            self._server.counts.clear()

    def stop(self) -> None:
        self._server.stop()
