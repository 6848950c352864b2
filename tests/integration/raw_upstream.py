"""A raw-socket upstream on 127.0.0.1: answers each request with exactly the bytes a test chose.

The sandbox speaks well-formed HTTP through http.server; hostile answers (a
Content-Length of "²", a status line "HTTP/1.1 2_00", a 5xx whose body never
ends) need a server that writes bytes as given. Each request is read whole
(headers and Content-Length body) before the script runs. Given a TLS context, the
same server speaks https (the production scheme) on each connection it accepts.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

# A step: bytes to send, or a pause in seconds. After the last step the connection
# is closed, unless `hold` is set: then it stays open (a body that never ends).
Step = bytes | float
STATUS_100_JSON: Final = b'{"response": {"status": 100}}'
STATUS_100_XML: Final = b"<response><status>100</status></response>"


@dataclass
class Script:
    steps: list[Step]
    hold: bool = False


def answer(head: str, body: bytes = b"", **kwargs: bool) -> Script:
    """A response from its head (status line and headers, CRLF-separated) and body."""
    return Script([head.encode("latin-1") + b"\r\n\r\n" + body], **kwargs)


@dataclass
class RawUpstream:
    sock: socket.socket
    tls: ssl.SSLContext | None = None
    script: Script = field(default_factory=lambda: answer("HTTP/1.1 204 No Content"))
    requests: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def play(self, script: Script) -> None:
        with self._lock:
            self.script = script
            self.requests = 0

    def serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, accepted: socket.socket) -> None:
        with contextlib.ExitStack() as stack:
            conn = stack.enter_context(accepted)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(5.0)
            with contextlib.suppress(OSError):  # ssl.SSLError included
                if self.tls is not None:
                    conn = stack.enter_context(self.tls.wrap_socket(conn, server_side=True))
                if not _read_request(conn):
                    return
                with self._lock:
                    self.requests += 1
                    script = self.script
                for step in script.steps:
                    if isinstance(step, bytes):
                        conn.sendall(step)
                    else:
                        time.sleep(step)
                if script.hold:
                    self._stop.wait(10.0)

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()


def _read_request(conn: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        body += chunk
    return True


@contextlib.contextmanager
def raw_upstream(tls: ssl.SSLContext | None = None) -> Iterator[RawUpstream]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = RawUpstream(sock, tls)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=2.0)
