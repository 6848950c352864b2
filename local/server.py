"""The API on 127.0.0.1: each HTTP request becomes an API Gateway REST proxy event.

Why: developers and black-box tests (curl, schemathesis, load runs) need the
real handler behind a real port without Docker or an AWS account. This plays
API Gateway's part only as far as the handler can tell: the proxy event in,
the proxy response out, a 502 when the function fails, and one request at a
time per execution environment as Lambda runs it.
"""

from __future__ import annotations

import argparse
import base64
import json
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from local.httpbase import LISTEN_HOST, TrackedHandler, TrackingHTTPServer, read_chunked
from local.lambda_runtime import LocalContext, build_rest_event, ensure_functions_on_path

DEFAULT_PORT: Final = 3000
MAX_BODY_BYTES: Final = 1024 * 1024
INVOKE_TIMEOUT_SECONDS: Final = 10.0
STAGE: Final = "local"
# Hop-by-hop or framing headers: this server sets them itself, as API Gateway does.
_DROPPED_RESPONSE_HEADERS: Final = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}
)

SERVED_KEPT: Final = 1000

Handler = Callable[[dict[str, Any], LocalContext], Any]


@dataclass(frozen=True)
class Served:
    """One answered request, as a browser test needs to see it (a CORS preflight included)."""

    method: str
    path: str
    status: int
    origin: str | None
    allow_origin: str | None  # the Access-Control-Allow-Origin answered, if any


class LocalApiServer(TrackingHTTPServer):
    """One simulated execution environment: the handler runs under one lock."""

    def __init__(self, address: tuple[str, int], *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.invoke_lock = threading.Lock()
        self._handler: Handler | None = None
        # The newest answered requests (never a query string: it may hold a PIN).
        self.served: deque[Served] = deque(maxlen=SERVED_KEPT)
        super().__init__(address, _ApiHandler)

    def lambda_handler(self) -> Handler:
        """Imports the function on first use (the cold start), never before."""
        if self._handler is None:
            ensure_functions_on_path()
            from telephone_status.handler import lambda_handler  # noqa: PLC0415

            self._handler = lambda_handler
        return self._handler


class MalformedProxyResponse(Exception):
    """The handler's result is not a proxy response API Gateway would accept."""


def _bodiless(status: int) -> bool:
    """RFC 9110: 1xx, 204 and 304 carry neither a body nor a Content-Length."""
    return status < 200 or status in (204, 304)


def _gateway_error(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps({"message": message}).encode()
    return status, [("Content-Type", "application/json")], body


def _proxy_response(result: object) -> tuple[int, list[tuple[str, str]], bytes]:
    """Turns the handler's proxy result into status, headers and body, as API Gateway does."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        raise MalformedProxyResponse
    headers: list[tuple[str, str]] = []
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(value)) for value in values or ())
    for name, value in (result.get("headers") or {}).items():
        if (str(name).lower(), str(value)) not in {(n.lower(), v) for n, v in headers}:
            headers.append((str(name), str(value)))
    headers = [(n, v) for n, v in headers if n.lower() not in _DROPPED_RESPONSE_HEADERS]
    status = int(result["statusCode"])
    if not _bodiless(status) and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    raw = result.get("body") or ""
    if not isinstance(raw, str):
        raise MalformedProxyResponse
    try:
        body = (
            base64.b64decode(raw, validate=True) if result.get("isBase64Encoded") else raw.encode()
        )
    except ValueError as error:
        raise MalformedProxyResponse from error
    return status, headers, body


class _ApiHandler(TrackedHandler):
    server_version = "local-apigateway"
    server: LocalApiServer

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._proxy()

    def do_HEAD(self) -> None:  # noqa: N802
        self._proxy()

    def do_POST(self) -> None:  # noqa: N802
        self._proxy()

    def do_PUT(self) -> None:  # noqa: N802
        self._proxy()

    def do_PATCH(self) -> None:  # noqa: N802
        self._proxy()

    def do_DELETE(self) -> None:  # noqa: N802
        self._proxy()

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._proxy()

    def _read_body(self) -> bytes | None:
        """The request body, or None when it is over MAX_BODY_BYTES or malformed."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return read_chunked(self.rfile, MAX_BODY_BYTES)
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length)

    def _proxy(self) -> None:
        started = time.monotonic()
        body = self._read_body()
        if body is None:
            # The rest of the body was not read, so the connection cannot be reused.
            self.close_connection = True
            status, headers, payload = _gateway_error(413, "Request Too Long")
            self._respond(status, headers, payload, started)
            return
        url = urlsplit(self.path)
        event = build_rest_event(
            self.command,
            unquote(url.path) or "/",
            query=parse_qsl(url.query, keep_blank_values=True),
            headers=list(self.headers.items()),
            body=body or None,
            stage=STAGE,
            source_ip=self.client_address[0],
        )
        request_id = event["requestContext"]["requestId"]
        try:
            with self.server.invoke_lock:
                handler = self.server.lambda_handler()
                result = handler(event, LocalContext(INVOKE_TIMEOUT_SECONDS))
            status, headers, payload = _proxy_response(result)
        except MalformedProxyResponse:
            sys.stderr.write("local-api: the handler returned a malformed proxy response\n")
            status, headers, payload = _gateway_error(502, "Internal server error")
        except Exception as error:  # API Gateway answers 502 whatever failed
            # The type only: a message could carry request data.
            sys.stderr.write(f"local-api: handler failed: {type(error).__name__}\n")
            status, headers, payload = _gateway_error(502, "Internal server error")
        headers.append(("x-amzn-RequestId", request_id))
        self._respond(status, headers, payload, started)

    def _respond(
        self, status: int, headers: list[tuple[str, str]], body: bytes, started: float
    ) -> None:
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if not _bodiless(status):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and not _bodiless(status):
                self.wfile.write(body)
        except OSError:
            self.close_connection = True
        path = urlsplit(self.path).path  # never the query: it may hold a PIN
        granted = next((v for n, v in headers if n.lower() == "access-control-allow-origin"), None)
        self.server.served.append(
            Served(self.command, path, status, self.headers.get("Origin"), granted)
        )
        if not self.server.quiet:
            elapsed = (time.monotonic() - started) * 1000
            sys.stderr.write(f"{self.command} {path} -> {status} ({elapsed:.0f} ms)\n")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


def serve(port: int = DEFAULT_PORT, *, quiet: bool = False) -> LocalApiServer:
    """Binds 127.0.0.1:`port` (0: any free port) and serves in a daemon thread.

    Raises OSError when the port is taken. Stop it with `.stop()`.
    """
    server = LocalApiServer((LISTEN_HOST, port), quiet=quiet)
    server.start("local-api")
    return server


def wait_for_signal() -> None:
    """Blocks until SIGINT or SIGTERM, so that callers shut down in order."""
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not done.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the function on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    try:
        server = serve(args.port, quiet=args.quiet)
    except OSError as error:
        print(f"cannot listen on {LISTEN_HOST}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    print(f"Telephone Status API on {server.url}/v1/telephone-status (Ctrl-C to stop)", flush=True)
    wait_for_signal()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
