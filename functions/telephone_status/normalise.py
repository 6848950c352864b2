"""Parses ProxStop's XML and JSON answers and normalises them to one shape.

Both formats are reduced to the same `UpstreamAnswer` or `UpstreamFailure`
before anything else looks at them, which is what makes the client-facing
body byte-for-byte identical whichever format was requested.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from .catalogue import channel_of, description_of, state_of
from .errors import UpstreamBadResponse, UpstreamUnavailable
from .models import StatusBody, TelephoneStatusResponse

UpstreamFormat = Literal["json", "xml"]

INVALID_REFERENCE_CODE: Final = "INVALID_TELEREFERENCE"
# ProxStop's documented JSON example misses the comma between two members
# written on separate lines; a newline outside a string is where it goes.
_MISSING_COMMA: Final = re.compile(r'("|[0-9]|true|false|null|\}|\])([ \t\r]*\n\s*)(")')
_INTEGER: Final = re.compile(r"[+-]?[0-9]{1,12}")
# Stands for a field the upstream sent twice (or, in XML, with child elements):
# no single value can be trusted, so it parses as no number at all.
_UNUSABLE: Final = object()


@dataclass(frozen=True)
class UpstreamAnswer:
    status: int
    valid: int | None


@dataclass(frozen=True)
class UpstreamFailure:
    error_code: str

    @property
    def is_unknown_reference(self) -> bool:
        return self.error_code.upper() == INVALID_REFERENCE_CODE


def parse_upstream(
    body: bytes, upstream_format: UpstreamFormat
) -> UpstreamAnswer | UpstreamFailure:
    """Raises UpstreamUnavailable for empty or contentless answers, else UpstreamBadResponse."""
    if not body.strip():
        raise UpstreamUnavailable(reason="empty upstream body")
    fields = _json_fields(body) if upstream_format == "json" else _xml_fields(body)
    return _interpret(fields)


def to_response(
    reference_id: str, answer: UpstreamAnswer, code_sent: bool
) -> TelephoneStatusResponse:
    code_valid = None if not code_sent or answer.valid is None else answer.valid == 0
    return TelephoneStatusResponse(
        reference_id=reference_id,
        status=StatusBody(
            code=answer.status,
            channel=channel_of(answer.status),
            state=state_of(answer.status),
            description=description_of(answer.status),
        ),
        code_valid=code_valid,
    )


@dataclass(frozen=True)
class _Fields:
    """What either format yields: the `failed` block, or the status fields."""

    failed: dict[str, Any] | None
    payload: dict[str, Any]


def _json_fields(body: bytes) -> _Fields:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UpstreamBadResponse(reason="upstream JSON is not UTF-8") from None
    document = _lenient_json(text)
    if not isinstance(document, dict):
        raise UpstreamBadResponse(reason="upstream JSON is not an object")
    response = document.get("response")
    payload = response if isinstance(response, dict) else document
    failed = document.get("failed")
    if failed is None and isinstance(payload.get("failed"), dict):
        failed = payload["failed"]  # <response><failed>… is read the same way in XML
    if failed is not None:
        if not isinstance(failed, dict):
            raise UpstreamBadResponse(reason="upstream `failed` is not an object")
        return _Fields(failed=failed, payload={})
    return _Fields(failed=None, payload=payload)


def _lenient_json(text: str) -> Any:
    for candidate in (text, _MISSING_COMMA.sub(r"\1,\2\3", text)):
        try:
            return json.loads(
                candidate, parse_constant=_reject_constant, object_pairs_hook=_lowered_object
            )
        except (ValueError, RecursionError):
            continue
    raise UpstreamBadResponse(reason="upstream JSON could not be parsed")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _lowered_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return _fields_dict((key, value) for key, value in pairs)


def _xml_fields(body: bytes) -> _Fields:
    try:
        body = body.lstrip()  # expat refuses whitespace before the XML declaration
        # forbid_dtd: ProxStop sends no DTD; refusing one also stops entity bombs and XXE.
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, RecursionError):
        raise UpstreamBadResponse(reason="upstream XML could not be parsed") from None
    failed = root if _tag(root) == "failed" else _child(root, "failed")
    if failed is not None:
        return _Fields(failed=_xml_children(failed), payload={})
    response = _child(root, "response")
    return _Fields(failed=None, payload=_xml_children(response if response is not None else root))


def _tag(element: Element) -> str:
    return str(element.tag).rpartition("}")[2].lower()


def _child(element: Element, tag: str) -> Element | None:
    return next((child for child in element if _tag(child) == tag), None)


def _xml_children(element: Element) -> dict[str, Any]:
    return _fields_dict(
        (_tag(child), child.text if len(child) == 0 else _UNUSABLE) for child in element
    )


def _fields_dict(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Keys lower-cased; a key given twice (in any case) holds _UNUSABLE: fail closed."""
    fields: dict[str, Any] = {}
    for key, value in pairs:
        name = key.lower()
        fields[name] = _UNUSABLE if name in fields else value
    return fields


def _interpret(fields: _Fields) -> UpstreamAnswer | UpstreamFailure:
    if fields.failed is not None:
        error_code = fields.failed.get("error_code")
        return UpstreamFailure(error_code=_clean_error_code(error_code))
    raw_status = fields.payload.get("status")
    if _is_blank(raw_status):
        raise UpstreamUnavailable(reason="upstream answer has neither status nor failed")
    status = _as_int(raw_status)
    if status is None or not 0 <= status <= 999:
        raise UpstreamBadResponse(reason="upstream status is not a three-digit number")
    raw_valid = fields.payload.get("valid")
    if _is_blank(raw_valid):
        return UpstreamAnswer(status=status, valid=None)
    valid = _as_int(raw_valid)
    if valid not in (0, -1):
        # Fail closed: anything but 0 / -1 must never become codeValid true.
        raise UpstreamBadResponse(reason="upstream valid is neither 0 nor -1")
    return UpstreamAnswer(status=status, valid=valid)


def _clean_error_code(value: Any) -> str:
    """The code is logged: keep it short and printable whatever the upstream sent."""
    if not isinstance(value, str) or not value.strip():
        return "UNSPECIFIED"
    return "".join(ch if ch.isprintable() else "?" for ch in value.strip()[:64])


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _as_int(value: Any) -> int | None:
    """Integers in whatever dress the upstream chose: 100, "100", " 0100 ", 100.0."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    return None
