"""The sandbox's HTTP side: the listener, the upstream endpoints and the control endpoints."""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from local.httpbase import LISTEN_HOST, TrackedHandler, TrackingHTTPServer, read_chunked
from local.lifecycle import Stoppable
from local.sandbox.documents import (
    CONTENT_TYPES,
    DEFAULT_KEY,
    HTML,
    INVALID_KEY_MSG,
    NOT_FOUND_HTML,
    STATUS_REFERENCE,
    VENDOR_REFERENCE,
    Format,
    document,
    failed,
)
from local.sandbox.faults import FAULT_REFERENCE, FAULTS, FAULTS_BY_NUMBER, Ask, Reply
from local.sandbox.starts import INBOX_PATH, START_FAULTS, START_PATHS
from local.sandbox.state import SandboxState

DEFAULT_SLOW_SECONDS: Final = 30.0
MAX_REQUEST_BODY: Final = 64 * 1024
FORM_TYPE: Final = "application/x-www-form-urlencoded"

_PATHS: Final[dict[str, Format]] = {
    "/telephonestatus.json": "json",
    "/telephonestatus.xml": "xml",
}


def _env_seconds(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


class _Server(TrackingHTTPServer):
    """The sandbox's listener: shared state plus the scenario knobs."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        state: SandboxState,
        slow_seconds: float | None,
        keep_alive_timeout: float,
        verbose: bool,
    ) -> None:
        self.state = state
        self.slow_seconds = slow_seconds
        self.verbose = verbose
        super().__init__(address, _Handler, keep_alive_timeout=keep_alive_timeout)


class _Handler(TrackedHandler):
    """One TCP connection; HTTP/1.1 keep-alive is handled by the base class loop."""

    server_version = "ProxStopSandbox/1.0"
    server: _Server
    connection_id = 0

    def setup(self) -> None:
        super().setup()
        self.connection_id = self.server.state.new_connection()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Method and path only: the query string may carry the key or the PIN."""
        if self.server.verbose:
            path = urlsplit(self.path).path
            sys.stderr.write(f"sandbox: {self.command} {path} -> {code}\n")

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        self._dispatch()

    # -- plumbing

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        if url.path.startswith("/_sandbox/"):
            self._control(url.path, body)
        elif url.path == INBOX_PATH and self.command == "GET":
            self._json(*self.server.state.starts.inbox(self.client_address[0], url.query))
        else:
            self._upstream(url.path, url.query, body)

    def _read_body(self) -> bytes | None:
        """Reads the whole body (keep-alive needs it consumed); None after an error reply."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(Reply(status=400, body=b"bad Content-Length\n", content_type="text/plain"))
            return None
        if length > MAX_REQUEST_BODY:
            self.close_connection = True
            self._send(
                Reply(status=413, body=b"request body too large\n", content_type="text/plain")
            )
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        body = read_chunked(self.rfile, MAX_REQUEST_BODY)
        if body is None:
            self.close_connection = True
            self._send(Reply(status=400, body=b"bad chunked body\n", content_type="text/plain"))
        return body

    def _json(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self._send(Reply(status=status, body=body, content_type="application/json"))

    def _control(self, path: str, body: bytes) -> None:
        state = self.server.state
        routes: dict[tuple[str, str], Callable[[], None]] = {
            ("GET", "/_sandbox/journal"): lambda: self._json(200, state.journal()),
            ("GET", "/_sandbox/stats"): lambda: self._json(200, state.stats()),
            ("GET", "/_sandbox/faults"): lambda: self._json(200, FAULTS),
            ("GET", "/_sandbox/start-faults"): lambda: self._json(200, START_FAULTS),
            ("POST", "/_sandbox/reset"): self._reset_state,
            ("POST", "/_sandbox/key"): lambda: self._set_key(body),
        }
        route = routes.get((self.command, path))
        if route is not None:
            route()
        elif any(known == path for _, known in routes):
            self._json(405, {"error": "method not allowed"})
        else:
            self._json(404, {"error": "unknown control endpoint"})

    def _reset_state(self) -> None:
        self.server.state.reset()
        self._json(200, {"reset": True})

    def _set_key(self, body: bytes) -> None:
        try:
            key = json.loads(body)["key"]
        except (ValueError, KeyError, TypeError):
            key = None
        if not isinstance(key, str) or not key:
            self._json(400, {"error": 'expected JSON {"key": "<non-empty string>"}'})
            return
        self.server.state.set_key(key)
        self._json(200, {"key": "updated"})

    def _upstream(self, path: str, query_string: str, body: bytes) -> None:
        state = self.server.state
        query = parse_qsl(query_string, keep_blank_values=True)
        media_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        form: list[tuple[str, str]] = []
        if self.command == "POST" and media_type == FORM_TYPE:
            form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        # Like PHP's $_REQUEST: body fields win over query fields of the same name.
        fields = dict(query)
        if self.command == "POST":
            fields.update(form)
        reference = fields.get("referenceid")
        code = fields.get("code") or None
        state.record(
            {
                "method": self.command,
                "path": path,
                "query_keys": [name for name, _ in query],
                "form_keys": [name for name, _ in form],
                "key_in_query": any(name == "key" for name, _ in query),
                "key_in_body": any(name == "key" for name, _ in form),
                "referenceid": reference,
                "has_code": code is not None,
                "content_type": self.headers.get("Content-Type"),
                "connection_id": self.connection_id,
                "timestamp": time.monotonic(),
            }
        )
        if path in START_PATHS:
            started = state.starts.answer(
                path,
                fields,
                key_ok=state.key_matches(fields.get("key")),
                slow_seconds=self.server.slow_seconds,
            )
            self._send(
                Reply(started.status, started.body, started.content_type, delay=started.delay)
            )
            return
        fmt = _PATHS.get(path)
        if fmt is None:
            self._send(Reply(status=404, body=NOT_FOUND_HTML, content_type=HTML))
            return
        self._send(self._answer(fmt, fields.get("key"), reference, code))

    def _answer(
        self, fmt: Format, key: str | None, reference: str | None, code: str | None
    ) -> Reply:
        if not self.server.state.key_matches(key):
            body = failed(fmt, "INVALID_KEY", INVALID_KEY_MSG)
            return Reply(body=body, content_type=CONTENT_TYPES[fmt])
        if not reference:
            body = failed(fmt, "MISSING_REFERENCEID", "No telephone reference ID was provided.")
            return Reply(body=body, content_type=CONTENT_TYPES[fmt])
        canonical = reference.upper()
        slow = self.server.slow_seconds
        if slow is None:
            slow = _env_seconds("SANDBOX_SLOW_SECONDS", DEFAULT_SLOW_SECONDS)
        ask = Ask(fmt=fmt, code=code, count=0, slow_seconds=slow)
        if (started := self.server.state.starts.status(canonical, code)) is not None:
            return ask.doc(document(fmt, *started))
        if canonical == VENDOR_REFERENCE:
            return ask.normal(100)
        if status := STATUS_REFERENCE.fullmatch(canonical):
            return ask.normal(int(status[1]))
        if (match := FAULT_REFERENCE.fullmatch(canonical)) and int(match[1]) in FAULTS_BY_NUMBER:
            count = self.server.state.bump(canonical)
            ask = Ask(fmt=fmt, code=code, count=count, slow_seconds=slow)
            return FAULTS_BY_NUMBER[int(match[1])].reply(ask)
        body = failed(
            fmt, "INVALID_TELEREFERENCE", "The telephone reference ID provided is not valid."
        )
        return Reply(body=body, content_type=CONTENT_TYPES[fmt])

    # -- writing

    def _start(self, reply: Reply, length: int | None) -> None:
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _send(self, reply: Reply) -> None:
        stopping = self.server.stopping
        if reply.delay and stopping.wait(reply.delay):
            self.close_connection = True
            return
        try:
            self._write(reply, stopping)
        except OSError:
            self.close_connection = True

    def _write(self, reply: Reply, stopping: threading.Event) -> None:
        if reply.transport == "close":
            self.close_connection = True
        elif reply.transport == "reset":
            self._start(reply, 200)
            self.wfile.write(reply.body[:20].ljust(20))
            stopping.wait(0.05)  # let the client read the headers before the reset
            self._reset()
        elif reply.transport == "drip":
            self._start(reply, len(reply.body))
            for offset in range(len(reply.body)):
                self.wfile.write(reply.body[offset : offset + 1])
                if stopping.wait(0.2):
                    self.close_connection = True
                    return
        elif reply.transport in ("stream", "chunked"):
            chunked = reply.transport == "chunked"
            self._start(reply, None if chunked else reply.length)
            for part in reply.parts or ():
                if stopping.is_set():
                    self.close_connection = True
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        else:
            self._start(reply, len(reply.body))
            self.wfile.write(reply.body)

    def _reset(self) -> None:
        """Closes the socket with SO_LINGER 0, which makes the kernel send an RST."""
        self.close_connection = True
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.server.untrack(sock)
        os.close(sock.detach())


# --------------------------------------------------------------------------- API


class SandboxServer(Stoppable):
    """A running sandbox: its URL, direct access to its state, and a prompt stop()."""

    def __init__(self, httpd: _Server) -> None:
        self._httpd = httpd
        self.state = httpd.state
        self.host = LISTEN_HOST
        self.port = httpd.port
        self.url = httpd.url

    def stop(self, timeout: float = 2.0) -> None:
        """Wakes sleeping scenarios, ends live connections and closes the listener."""
        self._httpd.stop(timeout)

    def reset(self) -> None:
        self.state.reset()

    def set_key(self, key: str) -> None:
        self.state.set_key(key)

    def journal(self) -> list[dict[str, Any]]:
        return self.state.journal()

    def stats(self) -> dict[str, int]:
        return self.state.stats()


def start_sandbox(
    port: int = 0,
    key: str = DEFAULT_KEY,
    *,
    slow_seconds: float | None = None,
    keep_alive_timeout: float = 60.0,
    verbose: bool = False,
) -> SandboxServer:
    """Starts the sandbox on 127.0.0.1 in a daemon thread (port 0 picks a free one).

    `slow_seconds` fixes fault 01's sleep; None reads SANDBOX_SLOW_SECONDS per request.
    """
    httpd = _Server(
        (LISTEN_HOST, port),
        state=SandboxState(key),
        slow_seconds=slow_seconds,
        keep_alive_timeout=keep_alive_timeout,
        verbose=verbose,
    )
    httpd.start("proxstop-sandbox")
    return SandboxServer(httpd)
