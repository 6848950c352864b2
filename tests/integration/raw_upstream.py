"""A raw-socket upstream on 127.0.0.1: answers each request with exactly the bytes a test chose.

The sandbox speaks well-formed HTTP through http.server; hostile answers (a
Content-Length of "²", a status line "HTTP/1.1 2_00", a 5xx whose body never
ends) need a server that writes bytes as given. Each request is read whole
(headers and Content-Length body) before the script runs.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# A step: bytes to send, or a pause in seconds. After the last step the connection
# is closed, unless `hold` is set: then it stays open (a body that never ends).
Step = bytes | float
STATUS_100_JSON: Final = b'{"response": {"status": 100}}'
STATUS_100_XML: Final = b"<response><status>100</status></response>"


@dataclass
class Script:
    steps: list[Step]
    hold: bool = False
    # False: play the steps as soon as the connection is accepted (e.g. to a TLS client,
    # whose ClientHello is no HTTP request).
    read_request: bool = True


def drip(data: bytes, every: float) -> list[Step]:
    """`data` one byte at a time, `every` seconds apart."""
    steps: list[Step] = []
    for index in range(len(data)):
        steps += [data[index : index + 1], every]
    return steps


def answer(head: str, body: bytes = b"", **kwargs: bool) -> Script:
    """A response from its head (status line and headers, CRLF-separated) and body."""
    return Script([head.encode("latin-1") + b"\r\n\r\n" + body], **kwargs)


@dataclass
class RawUpstream:
    sock: socket.socket
    # Set: the server speaks TLS (its certificate for 127.0.0.1 is in `ca_file`).
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

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(5.0)
            with contextlib.suppress(OSError):
                with self._lock:
                    script = self.script
                if self.tls is not None and script.read_request:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                if script.read_request and not _read_request(conn):
                    return
                with self._lock:
                    self.requests += 1
                for step in script.steps:
                    if self._stop.is_set():
                        return
                    if isinstance(step, bytes):
                        conn.sendall(step)
                    else:
                        time.sleep(step)
                if script.hold:
                    self._stop.wait(10.0)

    def stop(self) -> None:
        self._stop.set()
        # close() alone does not wake a thread blocked in accept() on Linux; shutdown() does.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
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


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh certificate for 127.0.0.1, and the file a client trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "raw-upstream.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "raw-upstream.pem"
    key_file = directory / "raw-upstream.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


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
