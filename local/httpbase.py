"""The HTTP/1.1 server plumbing shared by the sandbox, the local API server and the AWS proxy.

Why not plain ThreadingHTTPServer: its server_close() joins every handler
thread, so one idle keep-alive client makes stop() hang, and its default
logging prints request lines whose query strings may carry a key or a PIN.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any, Final

LISTEN_HOST: Final = "127.0.0.1"


class TrackingHTTPServer(ThreadingHTTPServer):
    """Knows its live connections so that stop() can end them promptly."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        keep_alive_timeout: float = 60.0,
    ) -> None:
        self.keep_alive_timeout = keep_alive_timeout
        self.stopping = threading.Event()
        self._live_lock = threading.Lock()
        self._live: dict[socket.socket, threading.Thread] = {}
        self._thread: threading.Thread | None = None
        super().__init__(address, handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LISTEN_HOST}:{self.port}"

    def track(self, sock: socket.socket) -> None:
        with self._live_lock:
            self._live[sock] = threading.current_thread()

    def untrack(self, sock: socket.socket) -> None:
        with self._live_lock:
            self._live.pop(sock, None)

    def start(self, name: str) -> None:
        """Serves in a daemon thread."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Wakes waiting handlers, ends live connections, closes the listener; idempotent."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        if self._thread is not None:
            self.shutdown()
        with self._live_lock:
            live = list(self._live.items())
        for sock, _ in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _, thread in live:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        self.server_close()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-answer is routine; anything else is a bug worth a traceback."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class TrackedHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, an idle timeout, and no request-line logging."""

    protocol_version = "HTTP/1.1"
    server: TrackingHTTPServer

    def setup(self) -> None:
        super().setup()
        # Idle keep-alive connections end like a real server's (and stuck writes unblock).
        self.connection.settimeout(self.server.keep_alive_timeout)
        # Headers and body go out in separate writes: with Nagle on, a keep-alive
        # client's delayed ACK would hold every body back by ~40 ms.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        self.server.untrack(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the base class logs raw request lines, query string (key, PIN) included."""
        return


def read_chunked(rfile: BufferedIOBase, limit: int) -> bytes | None:
    """A `Transfer-Encoding: chunked` request body, trailers consumed.

    None when a chunk size is malformed or the body would exceed `limit` bytes;
    the rest of the body is then unread, so the connection cannot be reused.
    """
    body = bytearray()
    while True:
        try:
            size = int(rfile.readline(1024).split(b";")[0].strip(), 16)
        except ValueError:
            return None
        if size < 0 or len(body) + size > limit:
            return None
        if size == 0:
            while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass
            return bytes(body)
        body += rfile.read(size)
        rfile.readline(8)
