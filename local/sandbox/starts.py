"""The sandbox's start endpoints: `telephonesms` and `telephonecall`, and the inbox.

Upstream behaviour (docs/upstream.md): `GET` or `POST` (form body) on
`/telephonesms.{json,xml}` and `/telephonecall.{json,xml}`, fields `key`, `country`
(1-3 digits), `phone` (the national number, digits only), `code` (the PIN: 3 to 5 digits,
100-99999), optional `message` (SMS text, or the call's language), `ext` and `ref`. The
answer is the new reference id, `ref` (32 upper-case hex characters). Failures have the
`telephonestatus` shape: a wrong key is `INVALID_KEY`, a bad number `INVALID_TELEPHONE`,
a bad PIN `INVALID_CODE` (the vendor publishes only INVALID_TELEPHONE).

Each reference remembers its PIN, so `telephonestatus` answers `valid` truthfully; its
delivery status is pending (203 SMS, 103 call) for SANDBOX_DELIVERY_SECONDS (default 2)
after the start, then delivered (200, 100).

`GET /inbox` (loopback clients only; JSON, newest first; `?phoneNumber=%2B…` filters one
E.164 number) shows what was "sent": number, channel, PIN, reference id, language, time.
It exists so that a developer can finish a verification locally; the real provider has
nothing like it.

Start faults, chosen by the number: +1 202 555 01NN (a fictional range, valid for
libphonenumber) with NN below. Each is listed by `GET /_sandbox/start-faults`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal
from urllib.parse import parse_qsl

Format = Literal["json", "xml"]
Channel = Literal["sms", "call"]

START_PATHS: Final[dict[str, tuple[Channel, Format]]] = {
    "/telephonesms.json": ("sms", "json"),
    "/telephonesms.xml": ("sms", "xml"),
    "/telephonecall.json": ("call", "json"),
    "/telephonecall.xml": ("call", "xml"),
}
INBOX_PATH: Final = "/inbox"
FAULT_NUMBER_PREFIX: Final = "+120255501"
DEFAULT_DELIVERY_SECONDS: Final = 2.0
DEFAULT_SLOW_SECONDS: Final = 30.0
MAX_INBOX: Final = 1000

# NN -> what a start to +1 202 555 01NN does.
START_FAULTS: Final[dict[str, str]] = {
    "91": "HTTP 500 after the code was sent (the inbox has it)",
    "92": "sends, then sleeps SANDBOX_SLOW_SECONDS (default 30) before answering: a timeout",
    "93": "failed INVALID_TELEPHONE (nothing sent)",
    "94": "the vendor's JSON example: ref not quoted (XML: the normal answer)",
    "95": "a ref of 31 hex characters",
    "96": "failed ACCOUNT_SUSPENDED (nothing sent)",
}

_CONTENT_TYPES: Final[dict[Format, str]] = {
    "json": "application/json",
    "xml": "text/xml; charset=UTF-8",
}
_COUNTRY: Final = re.compile(r"[1-9][0-9]{0,2}")
_PHONE: Final = re.compile(r"[0-9]{4,14}")
_PIN: Final = re.compile(r"[1-9][0-9]{2,4}")
_XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>'


@dataclass(frozen=True)
class StartReply:
    """What the sandbox's HTTP layer sends back."""

    status: int
    body: bytes
    content_type: str
    delay: float = 0.0


@dataclass(frozen=True)
class _Started:
    pin: str
    channel: Channel
    started: float  # time.monotonic()


def fault_number(nn: str) -> str:
    """The E.164 number whose start shows fault `nn` (see START_FAULTS)."""
    if nn not in START_FAULTS:
        raise ValueError(f"no start fault {nn}")
    return FAULT_NUMBER_PREFIX + nn


class StartBook:
    """The references started through the sandbox and the inbox; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._references: dict[str, _Started] = {}
        self._inbox: list[dict[str, str]] = []

    def reset(self) -> None:
        with self._lock:
            self._references.clear()
            self._inbox.clear()

    # ------------------------------------------------------------ telephonesms / call

    def answer(
        self, path: str, fields: dict[str, str], *, key_ok: bool, slow_seconds: float | None
    ) -> StartReply:
        channel, fmt = START_PATHS[path]
        if not key_ok:
            return _failed(fmt, "INVALID_KEY", "The API key provided is not valid.")
        country, phone, code = (fields.get(name, "") for name in ("country", "phone", "code"))
        if not _COUNTRY.fullmatch(country) or not _PHONE.fullmatch(phone):
            return _failed(fmt, "INVALID_TELEPHONE", "The telephone number provided is not valid.")
        if not _PIN.fullmatch(code):
            return _failed(fmt, "INVALID_CODE", "The code provided is not valid.")
        e164 = f"+{country}{phone}"
        fault = (
            e164.removeprefix(FAULT_NUMBER_PREFIX) if e164.startswith(FAULT_NUMBER_PREFIX) else ""
        )
        if fault == "93":
            return _failed(fmt, "INVALID_TELEPHONE", "The telephone number provided is not valid.")
        if fault == "96":
            return _failed(fmt, "ACCOUNT_SUSPENDED", "The account has been suspended.")
        reference = uuid.uuid4().hex.upper()
        self._remember(reference, e164, channel, code, fields.get("message", ""))
        if fault == "91":
            return StartReply(500, b'{"error": "Internal Server Error"}', "application/json")
        if fault == "92":
            slow = slow_seconds
            if slow is None:
                slow = _env_seconds("SANDBOX_SLOW_SECONDS", DEFAULT_SLOW_SECONDS)
            return StartReply(200, _ref_document(fmt, reference), _CONTENT_TYPES[fmt], slow)
        if fault == "94" and fmt == "json":
            body = (
                '{\n\t"version": "1.0",\n\t"encoding": "UTF-8",\n\t"response": {\n'
                f'\t\t"ref": {reference}\n\t}}\n}}'
            ).encode()
            return StartReply(200, body, _CONTENT_TYPES[fmt])
        if fault == "95":
            return StartReply(200, _ref_document(fmt, reference[:31]), _CONTENT_TYPES[fmt])
        return StartReply(200, _ref_document(fmt, reference), _CONTENT_TYPES[fmt])

    def _remember(
        self, reference: str, e164: str, channel: Channel, pin: str, message: str
    ) -> None:
        entry = {
            "phoneNumber": e164,
            "channel": channel,
            "code": pin,
            "referenceId": reference,
            "sentAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if channel == "call" and message:
            entry["language"] = message
        with self._lock:
            self._references[reference] = _Started(pin, channel, time.monotonic())
            self._inbox.append(entry)
            del self._inbox[:-MAX_INBOX]

    # ------------------------------------------------------------ telephonestatus

    def status(self, reference: str, code: str | None) -> tuple[int, int | None] | None:
        """(status, valid) of a reference started here, or None for any other reference."""
        with self._lock:
            started = self._references.get(reference)
        if started is None:
            return None
        delivered = time.monotonic() - started.started >= _env_seconds(
            "SANDBOX_DELIVERY_SECONDS", DEFAULT_DELIVERY_SECONDS
        )
        if started.channel == "sms":
            status = 200 if delivered else 203
        else:
            status = 100 if delivered else 103
        valid = None if code is None else (0 if code == started.pin else -1)
        return status, valid

    # ------------------------------------------------------------ inbox

    def inbox(self, client_host: str, query: str) -> tuple[int, object]:
        if not _is_loopback(client_host):
            return 403, {"error": "the inbox answers loopback clients only"}
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError:
            return 400, {"error": "bad query string"}
        names = {name for name, _ in pairs}
        if names - {"phoneNumber"}:
            return 400, {"error": "the inbox takes one optional field: phoneNumber"}
        wanted = dict(pairs).get("phoneNumber")
        if wanted is not None and wanted.startswith(" "):
            # An unencoded "+" arrives as a space: the developer meant the E.164 number.
            wanted = "+" + wanted[1:]
        with self._lock:
            messages = [dict(entry) for entry in reversed(self._inbox)]
        if wanted is not None:
            messages = [entry for entry in messages if entry["phoneNumber"] == wanted]
        return 200, messages


def _ref_document(fmt: Format, reference: str) -> bytes:
    if fmt == "json":
        return json.dumps(
            {"version": "1.0", "encoding": "UTF-8", "response": {"ref": reference}}
        ).encode()
    return f"{_XML_DECLARATION}\n<response>\n\t<ref>{reference}</ref>\n</response>".encode()


def _failed(fmt: Format, error_code: str, error_msg: str) -> StartReply:
    if fmt == "json":
        body = json.dumps({"failed": {"error_code": error_code, "error_msg": error_msg}}).encode()
    else:
        body = (
            f"{_XML_DECLARATION}\n<failed>\n\t<error_code>{error_code}</error_code>\n"
            f"\t<error_msg>{error_msg}</error_msg>\n</failed>"
        ).encode()
    return StartReply(200, body, _CONTENT_TYPES[fmt])


def _env_seconds(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
