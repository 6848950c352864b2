"""The upstream's side of the contract: its keys, reference ids and response bodies.

Upstream behaviour (docs/upstream.md): `valid` is only present when a `code` was sent: 0 when
it equals the PIN (16322 for every reference), else -1.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterator
from typing import Final, Literal

DEFAULT_KEY: Final = "098f6bcd4621d373cade4e832627b4f6"
VENDOR_REFERENCE: Final = "97A677DD3E0A42B8EA58D93D05BAC89F"
PIN: Final = "16322"
INVALID_KEY_MSG: Final = "The API key provided is not valid."

Format = Literal["json", "xml"]

CONTENT_TYPES: Final[dict[Format, str]] = {
    "json": "application/json",
    "xml": "text/xml; charset=UTF-8",
}
STATUS_REFERENCE: Final = re.compile(r"0{29}([1-9][0-9]{2})")
XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>'
HTML: Final = "text/html; charset=UTF-8"


def status_reference(status: int) -> str:
    """The reference id that answers `status` (100..999)."""
    if not 100 <= status <= 999:
        raise ValueError("status must be three digits")
    return f"{'0' * 29}{status}"


def valid_for(code: str | None) -> int | None:
    if code is None:
        return None
    return 0 if hmac.compare_digest(code.encode(), PIN.encode()) else -1


def document(fmt: Format, status: object, valid: object | None) -> bytes:
    """A success document in the vendor's layout (JSON made valid)."""
    if fmt == "json":
        response: dict[str, object] = {"status": status}
        if valid is not None:
            response["valid"] = valid
        return json.dumps({"version": "1.0", "encoding": "UTF-8", "response": response}).encode()
    lines = [XML_DECLARATION, "<response>", f"\t<status>{status}</status>"]
    if valid is not None:
        lines.append(f"\t<valid>{valid}</valid>")
    lines.append("</response>")
    return "\n".join(lines).encode()


def failed(fmt: Format, error_code: str, error_msg: str) -> bytes:
    """A `failed` document (the upstream's refusal), in the vendor's layout."""
    if fmt == "json":
        error = {"error_code": error_code, "error_msg": error_msg}
        return json.dumps({"version": "1.0", "encoding": "UTF-8", "failed": error}).encode()
    return "\n".join(
        [
            XML_DECLARATION,
            "<failed>",
            f"\t<error_code>{error_code}</error_code>",
            f"\t<error_msg>{error_msg}</error_msg>",
            "</failed>",
        ]
    ).encode()


def _entity_ref(level: int) -> str:
    return f"&lol{level or ''};"


VENDOR_JSON: Final = (
    b'{\n\t"version": "1.0",\n\t"encoding": "UTF-8",\n\t"response": {\n'
    b'\t\t"status": 100\n\t\t"valid": 0\n\t}\n}'
)
VENDOR_XML: Final = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<response>\n'
    b"\t<status>100</status>\n\t<valid>0</valid>\n</response>"
)
BILLION_LAUGHS: Final = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{n} "{_entity_ref(n - 1) * 10}">\n' for n in range(1, 10))
    + "]>\n<response><status>&lol9;</status></response>"
).encode()
XXE: Final = (
    b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>'
    b"<response><status>&xxe;</status></response>"
)
BAD_GATEWAY_HTML: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
MAINTENANCE_HTML: Final = (
    b"<!DOCTYPE html>\n<html><head><title>Scheduled maintenance</title></head>\n"
    b"<body><h1>We'll be back shortly</h1><p>ProxStop is down for maintenance.</p></body></html>\n"
)
NOT_FOUND_HTML: Final = b"<html><body><h1>404 Not Found</h1></body></html>\n"
REDIRECT_HTML: Final = b'<html><body>Moved: <a href="/elsewhere">/elsewhere</a></body></html>\n'


def quirky(fmt: Format, code: str | None) -> bytes:
    """Fault 22: a correct answer dressed the way sloppy PHP backends dress them."""
    valid = valid_for(code)
    if fmt == "json":
        response: dict[str, str] = {"status": " 100 "}
        if valid is not None:
            response["valid"] = str(valid)
        text = json.dumps(
            {"version": "1.0", "encoding": "UTF-8", "response": response}, indent="\t"
        )
    else:
        lines = [XML_DECLARATION, "<response>", "\t<status> 100 </status>"]
        if valid is not None:
            lines.append(f"\t<valid>\n\t\t{valid}\n\t</valid>")
        lines.append("</response>")
        text = "\n".join(lines)
    return (text.replace("\n", "\r\n") + "\r\n").encode("utf-8-sig")


def big_parts(fmt: Format, total: int) -> Iterator[bytes]:
    """A well-formed `total`-byte document, generated lazily in 64 KiB pieces."""
    if fmt == "json":
        head = b'{"version": "1.0", "encoding": "UTF-8", "response": {"status": 100, "padding": "'
        tail = b'"}}'
    else:
        head = XML_DECLARATION.encode() + b"\n<response>\n\t<status>100</status>\n\t<padding>"
        tail = b"</padding>\n</response>"
    yield head
    remaining = total - len(head) - len(tail)
    piece = b"x" * 65536
    while remaining > 0:
        chunk = piece[: min(remaining, len(piece))]
        remaining -= len(chunk)
        yield chunk
    yield tail
