"""A local ProxStop `telephonestatus` sandbox: the real upstream's contract, plus faults.

Why: the function must be exercised over real HTTP (keep-alive, timeouts,
resets, oversized and hostile bodies) without the vendor's service, and the
tests must be able to see exactly what the function sent upstream.

Upstream behaviour (see shared/upstream/proxstop-telephonestatus.md):
`GET` (query string) and `POST` (`application/x-www-form-urlencoded` body) on
`/telephonestatus.json` and `/telephonestatus.xml`, fields `key`, `referenceid`
and `code`. Checks, in order: wrong or missing key -> failed `INVALID_KEY`;
missing referenceid -> failed `MISSING_REFERENCEID`; unknown reference ->
failed `INVALID_TELEREFERENCE` (all HTTP 200). `valid` is only present when a
`code` was sent: 0 when it equals the PIN (16322 for every reference), else -1.

Reference ids (compared case-insensitively):

- ``97A677DD3E0A42B8EA58D93D05BAC89F``: the vendor's example, status 100.
- ``00000000000000000000000000000NNN`` (29 zeros, NNN in 100..999): status NNN.
- ``FA1700000000000000000000000000NN`` (FA17, 26 zeros, NN): fault NN below.

Faults (also in `FAULTS`, id -> description):

== ============================================================================
01 sleeps SANDBOX_SLOW_SECONDS (default 30) before a normal status-100 answer
02 HTTP 500 with a small JSON or XML error body
03 HTTP 502 with an nginx-style HTML page
04 HTTP 503 with an empty body
05 HTTP 200 with an empty body
06 HTTP 200 with an HTML maintenance page
07 HTTP 200 with a truncated document
08 the vendor's documented example verbatim (JSON without the comma after 100)
09 a well-formed document with neither status nor failed
10 HTTP 500 for the first 2 requests since the last reset, then status 100
11 HTTP 503 for the first request since the last reset, then status 100
12 headers with Content-Length 200, 20 bytes of body, then a TCP reset
13 closes the connection without any response
14 HTTP 200 dripping one byte every 0.2 s (a 300-byte body, 60 s)
15 HTTP 200 with a 10 MiB body and Content-Length
16 HTTP 200 with a 10 MiB chunked body, no Content-Length
17 billion-laughs XML entity bomb (both extensions)
18 XML with an external entity reading file:///etc/hostname (both extensions)
19 status 100 with valid = 1
20 status 100 with valid = "abc"
21 status "abc"
22 quirky but good: BOM, CRLF, status " 100 ", valid "0"/"-1" as strings
23 failed with error_code ACCOUNT_SUSPENDED
24 HTTP 429 with an empty body
25 HTTP 302 redirect to /elsewhere
26 status zero-padded: "0100"
27 HTTP 403 with a failed INVALID_KEY document
28 normal status-100 answer, compact JSON without encoding, as text/html
29 status 203 with no valid, even when a code was sent
30 HTTP 500 with a 10 MiB body and Content-Length
31 HTTP 502 dripping one byte every 0.2 s (a 300-byte body, 60 s)
32 HTTP 503 with a 10 MiB chunked body, no Content-Length
33 status 100 with valid "+0" (not an accepted spelling of 0)
34 status written as the number 1e2 (JSON) / the text 1e2 (XML)
35 failed holding bare text instead of an error_code
== ============================================================================

Control endpoints (not part of the upstream): ``GET /_sandbox/journal``,
``POST /_sandbox/reset``, ``POST /_sandbox/key`` (JSON ``{"key": "..."}``),
``GET /_sandbox/stats``, ``GET /_sandbox/faults`` (helpers: `control`,
`fetch_journal`, `reset_remote`). `stats` counts the requests and the distinct
connections that carried them since the reset (plus `accepted`: every TCP
connection, control ones included). Neither the key nor the code is ever
logged or journaled.
"""

from __future__ import annotations

import argparse
import hmac
import itertools
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

from local.httpbase import LISTEN_HOST, TrackedHandler, TrackingHTTPServer, read_chunked
from local.lifecycle import Stoppable
from local.sandbox_start import INBOX_PATH, START_FAULTS, START_PATHS, StartBook

DEFAULT_KEY: Final = "098f6bcd4621d373cade4e832627b4f6"
VENDOR_REFERENCE: Final = "97A677DD3E0A42B8EA58D93D05BAC89F"
PIN: Final = "16322"
DEFAULT_SLOW_SECONDS: Final = 30.0
MAX_REQUEST_BODY: Final = 64 * 1024
BIG_BODY_BYTES: Final = 10 * 1024 * 1024
FORM_TYPE: Final = "application/x-www-form-urlencoded"
INVALID_KEY_MSG: Final = "The API key provided is not valid."

Format = Literal["json", "xml"]
Transport = Literal["plain", "reset", "close", "drip", "stream", "chunked"]

_PATHS: Final[dict[str, Format]] = {
    "/telephonestatus.json": "json",
    "/telephonestatus.xml": "xml",
}
_CONTENT_TYPES: Final[dict[Format, str]] = {
    "json": "application/json",
    "xml": "text/xml; charset=UTF-8",
}
_STATUS_RE: Final = re.compile(r"0{29}([1-9][0-9]{2})")
_FAULT_RE: Final = re.compile(r"FA170{26}([0-9]{2})")
_XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>'
_HTML: Final = "text/html; charset=UTF-8"


def _env_seconds(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


def status_reference(status: int) -> str:
    """The reference id that answers `status` (100..999)."""
    if not 100 <= status <= 999:
        raise ValueError("status must be three digits")
    return f"{'0' * 29}{status}"


def fault_reference(number: int) -> str:
    """The reference id of fault `number` (see the module docstring)."""
    return f"FA17{'0' * 26}{number:02d}"


# --------------------------------------------------------------------------- documents


def _valid_for(code: str | None) -> int | None:
    if code is None:
        return None
    return 0 if hmac.compare_digest(code.encode(), PIN.encode()) else -1


def _document(fmt: Format, status: object, valid: object | None) -> bytes:
    """A success document in the vendor's layout (JSON made valid)."""
    if fmt == "json":
        response: dict[str, object] = {"status": status}
        if valid is not None:
            response["valid"] = valid
        return json.dumps({"version": "1.0", "encoding": "UTF-8", "response": response}).encode()
    lines = [_XML_DECLARATION, "<response>", f"\t<status>{status}</status>"]
    if valid is not None:
        lines.append(f"\t<valid>{valid}</valid>")
    lines.append("</response>")
    return "\n".join(lines).encode()


def _failed(fmt: Format, error_code: str, error_msg: str) -> bytes:
    if fmt == "json":
        failed = {"error_code": error_code, "error_msg": error_msg}
        return json.dumps({"version": "1.0", "encoding": "UTF-8", "failed": failed}).encode()
    return "\n".join(
        [
            _XML_DECLARATION,
            "<failed>",
            f"\t<error_code>{error_code}</error_code>",
            f"\t<error_msg>{error_msg}</error_msg>",
            "</failed>",
        ]
    ).encode()


def _entity_ref(level: int) -> str:
    return f"&lol{level or ''};"


_VENDOR_JSON: Final = (
    b'{\n\t"version": "1.0",\n\t"encoding": "UTF-8",\n\t"response": {\n'
    b'\t\t"status": 100\n\t\t"valid": 0\n\t}\n}'
)
_VENDOR_XML: Final = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<response>\n'
    b"\t<status>100</status>\n\t<valid>0</valid>\n</response>"
)
_BILLION_LAUGHS: Final = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{n} "{_entity_ref(n - 1) * 10}">\n' for n in range(1, 10))
    + "]>\n<response><status>&lol9;</status></response>"
).encode()
_XXE: Final = (
    b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>'
    b"<response><status>&xxe;</status></response>"
)
_BAD_GATEWAY_HTML: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_MAINTENANCE_HTML: Final = (
    b"<!DOCTYPE html>\n<html><head><title>Scheduled maintenance</title></head>\n"
    b"<body><h1>We'll be back shortly</h1><p>ProxStop is down for maintenance.</p></body></html>\n"
)
_NOT_FOUND_HTML: Final = b"<html><body><h1>404 Not Found</h1></body></html>\n"
_REDIRECT_HTML: Final = b'<html><body>Moved: <a href="/elsewhere">/elsewhere</a></body></html>\n'


def _quirky(fmt: Format, code: str | None) -> bytes:
    """Fault 22: a correct answer dressed the way sloppy PHP backends dress them."""
    valid = _valid_for(code)
    if fmt == "json":
        response: dict[str, str] = {"status": " 100 "}
        if valid is not None:
            response["valid"] = str(valid)
        text = json.dumps(
            {"version": "1.0", "encoding": "UTF-8", "response": response}, indent="\t"
        )
    else:
        lines = [_XML_DECLARATION, "<response>", "\t<status> 100 </status>"]
        if valid is not None:
            lines.append(f"\t<valid>\n\t\t{valid}\n\t</valid>")
        lines.append("</response>")
        text = "\n".join(lines)
    return (text.replace("\n", "\r\n") + "\r\n").encode("utf-8-sig")


def _big_parts(fmt: Format, total: int) -> Iterator[bytes]:
    """A well-formed `total`-byte document, generated lazily in 64 KiB pieces."""
    if fmt == "json":
        head = b'{"version": "1.0", "encoding": "UTF-8", "response": {"status": 100, "padding": "'
        tail = b'"}}'
    else:
        head = _XML_DECLARATION.encode() + b"\n<response>\n\t<status>100</status>\n\t<padding>"
        tail = b"</padding>\n</response>"
    yield head
    remaining = total - len(head) - len(tail)
    piece = b"x" * 65536
    while remaining > 0:
        chunk = piece[: min(remaining, len(piece))]
        remaining -= len(chunk)
        yield chunk
    yield tail


# --------------------------------------------------------------------------- replies


@dataclass
class Reply:
    """What to send back, and how to misbehave while sending it."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    transport: Transport = "plain"
    parts: Iterable[bytes] | None = None
    length: int | None = None


@dataclass(frozen=True)
class Ask:
    """One upstream request, as a fault sees it."""

    fmt: Format
    code: str | None
    count: int
    slow_seconds: float

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.fmt]

    def normal(self, status: int = 100) -> Reply:
        body = _document(self.fmt, status, _valid_for(self.code))
        return Reply(body=body, content_type=self.content_type)

    def doc(self, body: bytes, status: int = 200) -> Reply:
        return Reply(status=status, body=body, content_type=self.content_type)


def _by_format(json_body: bytes, xml_body: bytes) -> Callable[[Ask], bytes]:
    return lambda ask: json_body if ask.fmt == "json" else xml_body


_truncated = _by_format(
    b'{"version": "1.0", "response": {"status": 1',
    _XML_DECLARATION.encode() + b"\n<response>\n\t<status>100</sta",
)
_empty_document = _by_format(
    b'{"version":"1.0","encoding":"UTF-8","response":{}}', b"<response></response>"
)
_server_error = _by_format(
    b'{"error": "Internal Server Error"}',
    _XML_DECLARATION.encode() + b"\n<error>Internal Server Error</error>",
)
_vendor = _by_format(_VENDOR_JSON, _VENDOR_XML)


def _compact_as_html(ask: Ask) -> Reply:
    valid = _valid_for(ask.code)
    if ask.fmt == "json":
        response: dict[str, int] = {"status": 100}
        if valid is not None:
            response["valid"] = valid
        body = json.dumps({"version": "1.0", "response": response}, separators=(",", ":"))
        return Reply(body=body.encode(), content_type=_HTML)
    return Reply(body=_document("xml", 100, valid), content_type=_HTML)


def _drip(ask: Ask) -> Reply:
    body = ask.normal().body
    return Reply(
        body=body + b" " * max(0, 300 - len(body)), content_type=ask.content_type, transport="drip"
    )


@dataclass(frozen=True)
class Fault:
    """One misbehaviour, selected by reference id FA17...NN."""

    number: int
    description: str
    reply: Callable[[Ask], Reply] = field(repr=False)

    @property
    def reference(self) -> str:
        return fault_reference(self.number)


_FAULT_TABLE: Final[tuple[Fault, ...]] = (
    Fault(1, "sleeps SANDBOX_SLOW_SECONDS (default 30) before a normal status-100 answer",
          lambda a: replace(a.normal(), delay=a.slow_seconds)),
    Fault(2, "HTTP 500 with a small JSON or XML error body",
          lambda a: a.doc(_server_error(a), 500)),
    Fault(3, "HTTP 502 with an nginx-style HTML page",
          lambda a: Reply(status=502, body=_BAD_GATEWAY_HTML, content_type=_HTML)),
    Fault(4, "HTTP 503 with an empty body", lambda a: Reply(status=503)),
    Fault(5, "HTTP 200 with an empty body", lambda a: Reply(content_type=a.content_type)),
    Fault(6, "HTTP 200 with an HTML maintenance page",
          lambda a: Reply(body=_MAINTENANCE_HTML, content_type=_HTML)),
    Fault(7, "HTTP 200 with a truncated document", lambda a: a.doc(_truncated(a))),
    Fault(8, "the vendor's documented example verbatim (JSON without the comma after 100)",
          lambda a: a.doc(_vendor(a))),
    Fault(9, "a well-formed document with neither status nor failed",
          lambda a: a.doc(_empty_document(a))),
    Fault(10, "HTTP 500 for the first 2 requests since the last reset, then status 100",
          lambda a: a.doc(_server_error(a), 500) if a.count <= 2 else a.normal()),
    Fault(11, "HTTP 503 for the first request since the last reset, then status 100",
          lambda a: Reply(status=503) if a.count <= 1 else a.normal()),
    Fault(12, "headers with Content-Length 200, 20 bytes of body, then a TCP reset",
          lambda a: replace(a.normal(), transport="reset")),
    Fault(13, "closes the connection without any response", lambda a: Reply(transport="close")),
    Fault(14, "HTTP 200 dripping one byte every 0.2 s (a 300-byte body, 60 s)", _drip),
    Fault(15, "HTTP 200 with a 10 MiB body and Content-Length",
          lambda a: Reply(content_type=a.content_type, transport="stream",
                          parts=_big_parts(a.fmt, BIG_BODY_BYTES), length=BIG_BODY_BYTES)),
    Fault(16, "HTTP 200 with a 10 MiB chunked body, no Content-Length",
          lambda a: Reply(content_type=a.content_type, transport="chunked",
                          parts=_big_parts(a.fmt, BIG_BODY_BYTES))),
    Fault(17, "billion-laughs XML entity bomb (both extensions)",
          lambda a: a.doc(_BILLION_LAUGHS)),
    Fault(18, "XML with an external entity reading file:///etc/hostname (both extensions)",
          lambda a: a.doc(_XXE)),
    Fault(19, "status 100 with valid = 1", lambda a: a.doc(_document(a.fmt, 100, 1))),
    Fault(20, 'status 100 with valid = "abc"', lambda a: a.doc(_document(a.fmt, 100, "abc"))),
    Fault(21, 'status "abc"', lambda a: a.doc(_document(a.fmt, "abc", _valid_for(a.code)))),
    Fault(22, 'quirky but good: BOM, CRLF, status " 100 ", valid "0"/"-1" as strings',
          lambda a: a.doc(_quirky(a.fmt, a.code))),
    Fault(23, "failed with error_code ACCOUNT_SUSPENDED",
          lambda a: a.doc(_failed(a.fmt, "ACCOUNT_SUSPENDED", "The account has been suspended."))),
    Fault(24, "HTTP 429 with an empty body",
          lambda a: Reply(status=429, headers=(("Retry-After", "1"),))),
    Fault(25, "HTTP 302 redirect to /elsewhere",
          lambda a: Reply(status=302, body=_REDIRECT_HTML, content_type=_HTML,
                          headers=(("Location", "/elsewhere"),))),
    Fault(26, 'status zero-padded: "0100"',
          lambda a: a.doc(_document(a.fmt, "0100", _valid_for(a.code)))),
    Fault(27, "HTTP 403 with a failed INVALID_KEY document",
          lambda a: a.doc(_failed(a.fmt, "INVALID_KEY", INVALID_KEY_MSG), 403)),
    Fault(28, "normal status-100 answer, compact JSON without encoding, as text/html",
          _compact_as_html),
    Fault(29, "status 203 with no valid, even when a code was sent",
          lambda a: a.doc(_document(a.fmt, 203, None))),
    Fault(30, "HTTP 500 with a 10 MiB body and Content-Length",
          lambda a: Reply(status=500, content_type=a.content_type, transport="stream",
                          parts=_big_parts(a.fmt, BIG_BODY_BYTES), length=BIG_BODY_BYTES)),
    Fault(31, "HTTP 502 dripping one byte every 0.2 s (a 300-byte body, 60 s)",
          lambda a: replace(_drip(a), status=502)),
    Fault(32, "HTTP 503 with a 10 MiB chunked body, no Content-Length",
          lambda a: Reply(status=503, content_type=a.content_type, transport="chunked",
                          parts=_big_parts(a.fmt, BIG_BODY_BYTES))),
    Fault(33, 'status 100 with valid "+0" (not an accepted spelling of 0)',
          lambda a: a.doc(_document(a.fmt, 100, "+0"))),
    Fault(34, "status written as the number 1e2 (JSON) / the text 1e2 (XML)",
          lambda a: a.doc(_by_format(b'{"response": {"status": 1e2}}',
                                     b"<response><status>1e2</status></response>")(a))),
    Fault(35, "failed holding bare text instead of an error_code",
          lambda a: a.doc(_by_format(b'{"failed": "oops"}', b"<failed>oops</failed>")(a))),
)  # fmt: skip

_FAULTS_BY_NUMBER: Final = {fault.number: fault for fault in _FAULT_TABLE}
FAULTS: Final[dict[str, str]] = {fault.reference: fault.description for fault in _FAULT_TABLE}


# --------------------------------------------------------------------------- state


class SandboxState:
    """Everything the control endpoints expose; shared by all connection threads."""

    def __init__(self, key: str) -> None:
        self._lock = threading.Lock()
        self._key = key
        self._journal: list[dict[str, Any]] = []
        self._counters: dict[str, int] = {}
        self._accepted = 0
        self._connection_ids = itertools.count(1)
        self.starts = StartBook()  # telephonesms / telephonecall and the inbox

    def key_matches(self, candidate: str | None) -> bool:
        with self._lock:
            key = self._key
        return candidate is not None and hmac.compare_digest(candidate.encode(), key.encode())

    def set_key(self, key: str) -> None:
        with self._lock:
            self._key = key

    def reset(self) -> None:
        with self._lock:
            self._journal.clear()
            self._counters.clear()
            self._accepted = 0
        self.starts.reset()

    def new_connection(self) -> int:
        """Counts an accepted TCP connection; ids stay unique across resets."""
        with self._lock:
            self._accepted += 1
            return next(self._connection_ids)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._journal.append(entry)

    def bump(self, reference: str) -> int:
        with self._lock:
            self._counters[reference] = self._counters.get(reference, 0) + 1
            return self._counters[reference]

    def journal(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._journal]

    def stats(self) -> dict[str, int]:
        """`connections` counts connections that carried upstream requests since the reset.

        Control requests are left out so a test's own bookkeeping does not
        disturb the count; `accepted` is every TCP connection accepted.
        """
        with self._lock:
            used = {entry["connection_id"] for entry in self._journal}
            return {
                "requests": len(self._journal),
                "connections": len(used),
                "accepted": self._accepted,
            }


# --------------------------------------------------------------------------- HTTP


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
            self._send(Reply(status=404, body=_NOT_FOUND_HTML, content_type=_HTML))
            return
        self._send(self._answer(fmt, fields.get("key"), reference, code))

    def _answer(
        self, fmt: Format, key: str | None, reference: str | None, code: str | None
    ) -> Reply:
        if not self.server.state.key_matches(key):
            body = _failed(fmt, "INVALID_KEY", INVALID_KEY_MSG)
            return Reply(body=body, content_type=_CONTENT_TYPES[fmt])
        if not reference:
            body = _failed(fmt, "MISSING_REFERENCEID", "No telephone reference ID was provided.")
            return Reply(body=body, content_type=_CONTENT_TYPES[fmt])
        canonical = reference.upper()
        slow = self.server.slow_seconds
        if slow is None:
            slow = _env_seconds("SANDBOX_SLOW_SECONDS", DEFAULT_SLOW_SECONDS)
        ask = Ask(fmt=fmt, code=code, count=0, slow_seconds=slow)
        if (started := self.server.state.starts.status(canonical, code)) is not None:
            return ask.doc(_document(fmt, *started))
        if canonical == VENDOR_REFERENCE:
            return ask.normal(100)
        if status := _STATUS_RE.fullmatch(canonical):
            return ask.normal(int(status[1]))
        if (match := _FAULT_RE.fullmatch(canonical)) and int(match[1]) in _FAULTS_BY_NUMBER:
            count = self.server.state.bump(canonical)
            ask = Ask(fmt=fmt, code=code, count=count, slow_seconds=slow)
            return _FAULTS_BY_NUMBER[int(match[1])].reply(ask)
        body = _failed(
            fmt, "INVALID_TELEREFERENCE", "The telephone reference ID provided is not valid."
        )
        return Reply(body=body, content_type=_CONTENT_TYPES[fmt])

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


# Never through an HTTP(S)_PROXY from the environment: the sandbox is on loopback.
_DIRECT: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def control(base_url: str, method: str, path: str, payload: object | None = None) -> Any:
    """Calls a /_sandbox/ endpoint over HTTP (e.g. "journal", "reset", "key") and returns its JSON.

    For clients outside the sandbox's process; in-process code can use SandboxServer's methods.
    """
    body = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        f"{base_url}/_sandbox/{path}",
        data=body,
        method=method,
        headers={"Content-Type": "application/json"} if body is not None else {},
    )
    with _DIRECT.open(request, timeout=5) as response:
        return json.load(response)


def fetch_journal(base_url: str) -> list[dict[str, Any]]:
    """Every upstream request the sandbox at `base_url` received since its last reset."""
    journal: list[dict[str, Any]] = control(base_url, "GET", "journal")
    return journal


def reset_remote(base_url: str, key: str = DEFAULT_KEY) -> None:
    """Clears journal, counters and stats, and makes `key` the accepted key again."""
    control(base_url, "POST", "reset")
    control(base_url, "POST", "key", {"key": key})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local ProxStop telephonestatus sandbox.")
    parser.add_argument("--port", type=int, default=8100, help="port on 127.0.0.1 (0 = any)")
    parser.add_argument(
        "--key",
        default=os.environ.get("SANDBOX_KEY", DEFAULT_KEY),
        help="API key to accept (default: $SANDBOX_KEY or the vendor's published example key)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
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
