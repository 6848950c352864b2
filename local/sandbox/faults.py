"""The fault table: each misbehaviour the sandbox can act, selected by reference id FA17...NN.

Written once, here: `python -m local.sandbox --faults` prints it as a Markdown table (for the
docs), and `GET /_sandbox/faults` serves it as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from local.sandbox.documents import (
    BAD_GATEWAY_HTML,
    BILLION_LAUGHS,
    CONTENT_TYPES,
    HTML,
    INVALID_KEY_MSG,
    MAINTENANCE_HTML,
    REDIRECT_HTML,
    VENDOR_JSON,
    VENDOR_XML,
    XML_DECLARATION,
    XXE,
    Format,
    big_parts,
    document,
    failed,
    quirky,
    valid_for,
)
from local.sandbox.starts import START_FAULTS, fault_number

BIG_BODY_BYTES: Final = 10 * 1024 * 1024

Transport = Literal["plain", "reset", "close", "drip", "stream", "chunked"]
FAULT_REFERENCE: Final = re.compile(r"FA170{26}([0-9]{2})")


def fault_reference(number: int) -> str:
    """The reference id of fault `number` (see FAULT_TABLE)."""
    return f"FA17{'0' * 26}{number:02d}"


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
        return CONTENT_TYPES[self.fmt]

    def normal(self, status: int = 100) -> Reply:
        body = document(self.fmt, status, valid_for(self.code))
        return Reply(body=body, content_type=self.content_type)

    def doc(self, body: bytes, status: int = 200) -> Reply:
        return Reply(status=status, body=body, content_type=self.content_type)


def _by_format(json_body: bytes, xml_body: bytes) -> Callable[[Ask], bytes]:
    return lambda ask: json_body if ask.fmt == "json" else xml_body


_truncated = _by_format(
    b'{"version": "1.0", "response": {"status": 1',
    XML_DECLARATION.encode() + b"\n<response>\n\t<status>100</sta",
)
_empty_document = _by_format(
    b'{"version":"1.0","encoding":"UTF-8","response":{}}', b"<response></response>"
)
_server_error = _by_format(
    b'{"error": "Internal Server Error"}',
    XML_DECLARATION.encode() + b"\n<error>Internal Server Error</error>",
)
_vendor = _by_format(VENDOR_JSON, VENDOR_XML)


def _compact_as_html(ask: Ask) -> Reply:
    valid = valid_for(ask.code)
    if ask.fmt == "json":
        response: dict[str, int] = {"status": 100}
        if valid is not None:
            response["valid"] = valid
        body = json.dumps({"version": "1.0", "response": response}, separators=(",", ":"))
        return Reply(body=body.encode(), content_type=HTML)
    return Reply(body=document("xml", 100, valid), content_type=HTML)


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


FAULT_TABLE: Final[tuple[Fault, ...]] = (
    Fault(1, "sleeps SANDBOX_SLOW_SECONDS (default 30) before a normal status-100 answer",
          lambda a: replace(a.normal(), delay=a.slow_seconds)),
    Fault(2, "HTTP 500 with a small JSON or XML error body",
          lambda a: a.doc(_server_error(a), 500)),
    Fault(3, "HTTP 502 with an nginx-style HTML page",
          lambda a: Reply(status=502, body=BAD_GATEWAY_HTML, content_type=HTML)),
    Fault(4, "HTTP 503 with an empty body", lambda a: Reply(status=503)),
    Fault(5, "HTTP 200 with an empty body", lambda a: Reply(content_type=a.content_type)),
    Fault(6, "HTTP 200 with an HTML maintenance page",
          lambda a: Reply(body=MAINTENANCE_HTML, content_type=HTML)),
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
                          parts=big_parts(a.fmt, BIG_BODY_BYTES), length=BIG_BODY_BYTES)),
    Fault(16, "HTTP 200 with a 10 MiB chunked body, no Content-Length",
          lambda a: Reply(content_type=a.content_type, transport="chunked",
                          parts=big_parts(a.fmt, BIG_BODY_BYTES))),
    Fault(17, "billion-laughs XML entity bomb (both extensions)",
          lambda a: a.doc(BILLION_LAUGHS)),
    Fault(18, "XML with an external entity reading file:///etc/hostname (both extensions)",
          lambda a: a.doc(XXE)),
    Fault(19, "status 100 with valid = 1", lambda a: a.doc(document(a.fmt, 100, 1))),
    Fault(20, 'status 100 with valid = "abc"', lambda a: a.doc(document(a.fmt, 100, "abc"))),
    Fault(21, 'status "abc"', lambda a: a.doc(document(a.fmt, "abc", valid_for(a.code)))),
    Fault(22, 'quirky but good: BOM, CRLF, status " 100 ", valid "0"/"-1" as strings',
          lambda a: a.doc(quirky(a.fmt, a.code))),
    Fault(23, "failed with error_code ACCOUNT_SUSPENDED",
          lambda a: a.doc(failed(a.fmt, "ACCOUNT_SUSPENDED", "The account has been suspended."))),
    Fault(24, "HTTP 429 with an empty body",
          lambda a: Reply(status=429, headers=(("Retry-After", "1"),))),
    Fault(25, "HTTP 302 redirect to /elsewhere",
          lambda a: Reply(status=302, body=REDIRECT_HTML, content_type=HTML,
                          headers=(("Location", "/elsewhere"),))),
    Fault(26, 'status zero-padded: "0100"',
          lambda a: a.doc(document(a.fmt, "0100", valid_for(a.code)))),
    Fault(27, "HTTP 403 with a failed INVALID_KEY document",
          lambda a: a.doc(failed(a.fmt, "INVALID_KEY", INVALID_KEY_MSG), 403)),
    Fault(28, "normal status-100 answer, compact JSON without encoding, as text/html",
          _compact_as_html),
    Fault(29, "status 203 with no valid, even when a code was sent",
          lambda a: a.doc(document(a.fmt, 203, None))),
    Fault(30, "HTTP 500 with a 10 MiB body and Content-Length",
          lambda a: Reply(status=500, content_type=a.content_type, transport="stream",
                          parts=big_parts(a.fmt, BIG_BODY_BYTES), length=BIG_BODY_BYTES)),
    Fault(31, "HTTP 502 dripping one byte every 0.2 s (a 300-byte body, 60 s)",
          lambda a: replace(_drip(a), status=502)),
    Fault(32, "HTTP 503 with a 10 MiB chunked body, no Content-Length",
          lambda a: Reply(status=503, content_type=a.content_type, transport="chunked",
                          parts=big_parts(a.fmt, BIG_BODY_BYTES))),
    Fault(33, 'status 100 with valid "+0" (not an accepted spelling of 0)',
          lambda a: a.doc(document(a.fmt, 100, "+0"))),
    Fault(34, "status written as the number 1e2 (JSON) / the text 1e2 (XML)",
          lambda a: a.doc(_by_format(b'{"response": {"status": 1e2}}',
                                     b"<response><status>1e2</status></response>")(a))),
    Fault(35, "failed holding bare text instead of an error_code",
          lambda a: a.doc(_by_format(b'{"failed": "oops"}', b"<failed>oops</failed>")(a))),
)  # fmt: skip

FAULTS_BY_NUMBER: Final = {fault.number: fault for fault in FAULT_TABLE}
FAULTS: Final[dict[str, str]] = {fault.reference: fault.description for fault in FAULT_TABLE}


def markdown_table() -> str:
    """The fault table as Markdown, for the docs (``python -m local.sandbox --faults``)."""
    rows = ["| fault | reference id | behaviour |", "| --- | --- | --- |"]
    for fault in FAULT_TABLE:
        description = fault.description.replace("|", "\\|")
        rows.append(f"| {fault.number:02d} | `{fault.reference}` | {description} |")
    rows += ["", "Starts (`telephonesms`, `telephonecall`), chosen by the phone number:", ""]
    rows += ["| fault | phone number | behaviour |", "| --- | --- | --- |"]
    for nn, description in START_FAULTS.items():
        rows.append(f"| {nn} | `{fault_number(nn)}` | {description} |")
    return "\n".join(rows) + "\n"
