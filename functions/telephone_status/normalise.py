"""Parses ProxStop's XML and JSON answers and normalises them to one shape.

Both formats are first reduced to the same tree (`_Node`: lower-cased ASCII
keys; leaves are text exactly as written, JSON numbers by their literal; a key
given twice, or a JSON array, is `_UNUSABLE`), and one decision (`_interpret`)
reads that tree. So the same kind of document gives the same outcome in both
formats (docs/api.md#success-response), and the client-facing body is byte-for-byte identical.

Everything read from the upstream's bytes follows ASCII rules: numbers are
ASCII digits only, whitespace is the four characters XML and JSON both call
whitespace (space, tab, CR, LF), key and code comparisons fold ASCII case only.
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
from .errors import UpstreamBadResponse, UpstreamError, UpstreamUnavailable
from .models import StatusBody, TelephoneStatusResponse

UpstreamFormat = Literal["json", "xml"]

INVALID_REFERENCE_CODE: Final = "INVALID_TELEREFERENCE"
MISSING_ERROR_CODE: Final = "MISSING"
# The whitespace of the XML (S) and JSON (ws) grammars; str.strip() would also
# take Unicode spaces (U+00A0, U+2028, U+3000, ...), which no upstream number wears.
ASCII_WHITESPACE: Final = " \t\r\n"
# ProxStop's documented JSON example misses the comma between two members
# written on separate lines; a newline outside a string is where it goes.
_MISSING_COMMA: Final = re.compile(r'("|[0-9]|true|false|null|\}|\])([ \t\r]*\n[ \t\r\n]*)(")')
# The vendor's documented start answer leaves the hex `ref` unquoted: "ref": 97A6…89F.
_BARE_REF: Final = re.compile(r'("ref"[ \t\r\n]*:[ \t\r\n]*)([0-9A-Za-z]+)(?=[ \t\r\n]*[,}])')
_REFERENCE: Final = re.compile(r"[0-9A-Fa-f]{32}")
INVALID_TELEPHONE_CODE: Final = "INVALID_TELEPHONE"
# A status: ASCII digits only, zero padding allowed ("0100"), no sign, no fraction.
_STATUS_DIGITS: Final = re.compile(r"[0-9]{1,12}")
# The only spellings of `valid` (docs/upstream.md) (after trimming ASCII whitespace).
_VALID_SPELLINGS: Final = {"0": 0, "-1": -1}


class _Unusable:
    """A key given twice (in any case), or a JSON array: no single value can be trusted."""

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "<unusable>"


_UNUSABLE: Final = _Unusable()
# A parsed node: a mapping of lower-cased keys to text ("" for an empty XML
# element), None (JSON null), a nested node, or _UNUSABLE.
_Node = dict[str, Any]


@dataclass(frozen=True)
class UpstreamAnswer:
    status: int
    valid: int | None


@dataclass(frozen=True)
class UpstreamFailure:
    error_code: str

    @property
    def is_invalid_telephone(self) -> bool:
        return _ascii_lower(self.error_code) == INVALID_TELEPHONE_CODE.lower()

    @property
    def is_unknown_reference(self) -> bool:
        # ASCII case only: a dotless i (U+0131) upper-cases to I, but is not the code.
        return _ascii_lower(self.error_code) == INVALID_REFERENCE_CODE.lower()


# What the readers raise on bytes they cannot read. expat (through defusedxml): ParseError
# (a SyntaxError), DefusedXmlException (DTD, entities, external references forbidden),
# LookupError (an encoding declaration Python has no codec for, or a bytes-to-bytes codec
# such as zlib, hex or rot13), ValueError (UnicodeError included: bytes not in the
# declared encoding), TypeError (a codec that yields no text), RecursionError, and
# OverflowError / MemoryError on absurd input. json: ValueError (JSONDecodeError,
# UnicodeDecodeError) and RecursionError (deep nesting).
READ_ERRORS: Final = (
    ParseError,
    DefusedXmlException,
    SyntaxError,
    LookupError,
    ValueError,
    TypeError,
    RecursionError,
    OverflowError,
    MemoryError,
)


def parse_upstream(
    body: bytes, upstream_format: UpstreamFormat
) -> UpstreamAnswer | UpstreamFailure:
    """Raises UpstreamUnavailable for empty or contentless answers, else UpstreamBadResponse."""
    if not body.strip(ASCII_WHITESPACE.encode()):
        raise UpstreamUnavailable(reason="empty upstream body")
    try:
        document = _json_document(body) if upstream_format == "json" else _xml_document(body)
    except UpstreamError:
        raise
    except READ_ERRORS:
        raise UpstreamBadResponse(reason=f"upstream {upstream_format} could not be read") from None
    except Exception as exc:
        # Backstop: whatever else a reader raises, the bytes came from the upstream, so
        # they are its bad response (502), never our 500; the type name says which.
        raise UpstreamBadResponse(
            reason=f"upstream {upstream_format} could not be read: {type(exc).__name__}"
        ) from None
    return _interpret(document)


@dataclass(frozen=True)
class StartAnswer:
    reference_id: str  # canonical: 32 hex characters, upper case


def parse_start(body: bytes, upstream_format: UpstreamFormat) -> StartAnswer | UpstreamFailure:
    """A telephonesms / telephonecall answer: its `ref`, or the failure.

    Empty: UpstreamUnavailable; anything but a 32-hex `ref` or a failure: UpstreamBadResponse.
    """
    if not body.strip(ASCII_WHITESPACE.encode()):
        raise UpstreamUnavailable(reason="empty upstream body")
    document = _json_document(body) if upstream_format == "json" else _xml_document(body)
    payload = _payload(document)
    if isinstance(payload, UpstreamFailure):
        return payload
    raw_ref = _present(payload.get("ref"))
    text = raw_ref.strip(ASCII_WHITESPACE) if isinstance(raw_ref, str) else ""
    if not _REFERENCE.fullmatch(text):
        raise UpstreamBadResponse(reason="upstream ref is not 32 hexadecimal characters")
    return StartAnswer(reference_id=text.upper())


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


# --------------------------------------------------------------------------- JSON -> tree


def _json_document(body: bytes) -> _Node:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UpstreamBadResponse(reason="upstream JSON is not UTF-8") from None
    document = _lenient_json(text)
    if not isinstance(document, dict):
        raise UpstreamBadResponse(reason="upstream JSON is not an object")
    return document


def _lenient_json(text: str) -> Any:
    repaired = _MISSING_COMMA.sub(r"\1,\2\3", text)
    for candidate in (text, repaired, _BARE_REF.sub(r'\1"\2"', repaired)):
        try:
            return json.loads(
                candidate,
                # Numbers stay the text they were written as, as in XML: "1e2" is not 100.
                parse_int=str,
                parse_float=str,
                parse_constant=_reject_constant,
                object_pairs_hook=_json_node,
            )
        except READ_ERRORS:
            continue
    raise UpstreamBadResponse(reason="upstream JSON could not be parsed")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _json_node(pairs: list[tuple[str, Any]]) -> _Node:
    return _node((key, _json_leaf(value)) for key, value in pairs)


def _json_leaf(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"  # as the same answer reads in XML
    if isinstance(value, list):
        return _UNUSABLE  # XML has no arrays; its nearest twin is a repeated element
    if isinstance(value, dict) and not value:
        return ""  # {} and "" are both the empty element <x/> in XML
    return value  # str (numbers included), None, or a nested node


# --------------------------------------------------------------------------- XML -> tree


def _xml_document(body: bytes) -> _Node:
    try:
        body = body.lstrip()  # expat refuses whitespace before the XML declaration
        # forbid_dtd: ProxStop sends no DTD; refusing one also stops entity bombs and XXE.
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except READ_ERRORS:
        raise UpstreamBadResponse(reason="upstream XML could not be parsed") from None
    tag = _tag(root)
    if tag == "failed":
        # <failed>…</failed> is the JSON document {"failed": {…}}.
        return {"failed": _xml_value(root)}
    # Any other root (<response> in the vendor's layout) is the JSON document's outer
    # object: <response><status>… reads as {"status": …}, <response><response>… as
    # {"response": {…}}, the same decision either way.
    value = _xml_value(root)
    if isinstance(value, dict):
        return value
    if not value.strip(ASCII_WHITESPACE):
        return {}
    raise UpstreamBadResponse(reason="upstream XML root holds text, not fields")


def _tag(element: Element) -> str:
    return _ascii_lower(str(element.tag).rpartition("}")[2])


# The decision reads at most root > response > failed > error_code; deeper elements
# only need to be known as elements (a JSON document this deep fails to parse anyway).
_XML_DEPTH_READ: Final = 4


def _xml_value(element: Element, depth: int = 0) -> Any:
    if len(element) == 0:
        return element.text or ""  # an element is there even when empty: never JSON null
    if depth >= _XML_DEPTH_READ:
        return {}
    return _node((_tag(child), _xml_value(child, depth + 1)) for child in element)


# --------------------------------------------------------------------------- the decision


def _node(pairs: Iterable[tuple[str, Any]]) -> _Node:
    """Keys lower-cased (ASCII only); a key given twice (in any case) is _UNUSABLE."""
    fields: _Node = {}
    for key, value in pairs:
        name = _ascii_lower(key)
        fields[name] = _UNUSABLE if name in fields else value
    return fields


def _payload(document: _Node) -> _Node | UpstreamFailure:
    """The failure, when there is one (`failed`, at the top or inside `response`, wins);
    else the object an answer's fields are read from: `response` when present, else the top.
    """
    response = _present(document.get("response"))
    if response is not None and not isinstance(response, dict):
        raise UpstreamBadResponse(reason="upstream `response` is not an object")
    failed = document.get("failed")
    if failed is None and response is not None:
        failed = response.get("failed")
    if failed is not None:
        return _failure(failed)
    return response if response is not None else document


def _interpret(document: _Node) -> UpstreamAnswer | UpstreamFailure:
    """One decision for both formats.

    `failed` (at the top or inside `response`) wins; otherwise status and valid are
    read from `response` when it is an object, else from the top. A key the decision
    needs that was given twice, or has the wrong shape, is a bad response (502); a
    document with neither `status` nor `failed` means the upstream is unavailable (503).
    """
    payload = _payload(document)
    if isinstance(payload, UpstreamFailure):
        return payload
    raw_status = _present(payload.get("status"))
    if raw_status is None:
        raise UpstreamUnavailable(reason="upstream answer has neither status nor failed")
    status = _status_number(raw_status)
    raw_valid = _present(payload.get("valid"))
    if raw_valid is None:
        return UpstreamAnswer(status=status, valid=None)
    if not isinstance(raw_valid, str) or raw_valid.strip(ASCII_WHITESPACE) not in _VALID_SPELLINGS:
        # Fail closed: anything but the exact spellings of 0 / -1 is a 502
        # (docs/api.md#success-response).
        raise UpstreamBadResponse(reason="upstream valid is neither 0 nor -1")
    return UpstreamAnswer(status=status, valid=_VALID_SPELLINGS[raw_valid.strip(ASCII_WHITESPACE)])


def _present(value: Any) -> Any:
    """None for an absent, null or blank value; _UNUSABLE is refused here once for all."""
    if value is _UNUSABLE:
        raise UpstreamBadResponse(reason="upstream repeated a field or sent an array")
    if value is None or (isinstance(value, str) and not value.strip(ASCII_WHITESPACE)):
        return None
    return value


def _failure(failed: Any) -> UpstreamFailure:
    if failed is _UNUSABLE:
        raise UpstreamBadResponse(reason="upstream repeated `failed`")
    # <failed>oops</failed>, <failed/>, {"failed": "oops"}, {"failed": ""}: the upstream
    # says it failed without saying why; alike in both formats (docs/upstream.md).
    if not isinstance(failed, dict):
        return UpstreamFailure(error_code=MISSING_ERROR_CODE)
    error_code = failed.get("error_code")
    if error_code is _UNUSABLE:
        raise UpstreamBadResponse(reason="upstream repeated `error_code`")
    return UpstreamFailure(error_code=_clean_error_code(error_code))


def _status_number(value: Any) -> int:
    text = value.strip(ASCII_WHITESPACE) if isinstance(value, str) else ""
    if not _STATUS_DIGITS.fullmatch(text) or int(text) > 999:
        # 100.0, 1e2, +100, true, an object, non-ASCII digits: rejected in both formats.
        raise UpstreamBadResponse(reason="upstream status is not a three-digit number")
    return int(text)


def _clean_error_code(value: Any) -> str:
    """The code is logged: keep it short, ASCII and printable whatever the upstream sent."""
    text = value.strip(ASCII_WHITESPACE) if isinstance(value, str) else ""
    if not text:
        return MISSING_ERROR_CODE
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text[:64])


def _ascii_lower(text: str) -> str:
    # str.lower() folds non-ASCII letters too (U+212A KELVIN SIGN becomes k).
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
