"""Parsing fails closed: whatever ProxStop sends ends in a result or an UpstreamError."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from telephone_status.errors import UpstreamError
from telephone_status.normalise import (
    UpstreamAnswer,
    UpstreamFailure,
    UpstreamFormat,
    parse_upstream,
    to_response,
)

RID = "97A677DD3E0A42B8EA58D93D05BAC89F"
# Moderate example counts keep the file at a few seconds; structured documents cost more
# to generate than raw bytes, so they get fewer.
CHEAP = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROPERTY = settings(CHEAP, max_examples=150)
FORMATS = st.sampled_from(["json", "xml"])
_ZERO = re.compile(r"[+-]?0+")


def outcome(body: bytes, fmt: UpstreamFormat) -> UpstreamAnswer | UpstreamFailure | None:
    """The parse result, None for an UpstreamError; any other exception fails the test."""
    try:
        result = parse_upstream(body, fmt)
    except UpstreamError:
        return None
    assert isinstance(result, UpstreamAnswer | UpstreamFailure)
    if isinstance(result, UpstreamAnswer):
        assert 0 <= result.status <= 999
        assert result.valid in (0, -1, None)
        # Serialising never fails either.
        to_response(RID, result, code_sent=True).model_dump_json(by_alias=True)
    else:
        assert result.error_code
        assert len(result.error_code) <= 64
        assert result.error_code.isprintable()
    return result


def code_valid(result: UpstreamAnswer | UpstreamFailure | None) -> bool | None:
    if not isinstance(result, UpstreamAnswer):
        return None
    return to_response(RID, result, code_sent=True).code_valid


def is_zero(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value == 0
    return isinstance(value, str) and _ZERO.fullmatch(value.strip()) is not None


# --- arbitrary bytes ---------------------------------------------------------------------


@CHEAP
@given(body=st.binary(max_size=512), fmt=FORMATS)
@example(body=b"\xef\xbb\xbf", fmt="json")
@example(body=b"\xef\xbb\xbf", fmt="xml")
@example(body=b"\x00", fmt="xml")
@example(body=b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", fmt="xml")
@example(body=b'{"response":{"status":100\n"valid":0}', fmt="json")
def test_arbitrary_bytes_never_raise_anything_but_upstream_errors(
    body: bytes, fmt: UpstreamFormat
) -> None:
    outcome(body, fmt)


@CHEAP
@given(
    prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b'<?xml version="1.0"?>', b"{", b"<response>"]),
    text=st.text(max_size=200),
    fmt=FORMATS,
)
def test_arbitrary_text_never_raises_anything_but_upstream_errors(
    prefix: bytes, text: str, fmt: UpstreamFormat
) -> None:
    outcome(prefix + text.encode("utf-8", "surrogatepass"), fmt)


# --- odd but well-formed JSON ------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "response",
        "failed",
        "status",
        "valid",
        "error_code",
        "error_msg",
        "version",
        "Status",
        "VALID",
        "Response",
        "FAILED",
        "x",
        "",
    ]
)
# Small alphabets keep generation cheap; the interesting values are listed explicitly.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-2000, max_value=2000)
    | st.sampled_from([0.0, -0.0, -1.0, 100.0, 100.5, 1e300, -1e-300])
    | st.sampled_from(["0", "-1", " 0 ", "100", "0100", "", " ", "abc", "-0", "+0", "1e2"])
    | st.text(alphabet="0123456789 -+.ab\n\t\u0661\u00e9", max_size=6)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=6,
)
JSON_OBJECTS = st.dictionaries(KEYS, JSON_VALUES, max_size=5)
JSON_DOCUMENTS = st.one_of(
    JSON_OBJECTS,
    st.builds(lambda response, extra: {**extra, "response": response}, JSON_OBJECTS, JSON_OBJECTS),
    st.builds(lambda failed, extra: {**extra, "failed": failed}, JSON_VALUES, JSON_OBJECTS),
    JSON_VALUES,
)


def json_payloads(document: Any) -> list[dict[str, Any]]:
    """Where a ProxStop JSON document may keep status and valid: `response`, or the root.

    With several spellings of `response` the document is ambiguous, so every candidate
    counts; the property below only needs one that clearly says valid 0.
    """
    if not isinstance(document, dict):
        return []
    responses = [v for k, v in document.items() if k.lower() == "response"]
    return [document, *(r for r in responses if isinstance(r, dict))]


def render_json(document: Any, *, indent: int | None, drop_line_commas: bool) -> bytes:
    text = json.dumps(document, indent=indent)
    if drop_line_commas:
        # The documented slip: a comma missing at the end of a line.
        text = text.replace(",\n", "\n")
    return text.encode()


@PROPERTY
@given(
    document=JSON_DOCUMENTS,
    indent=st.sampled_from([None, 1, 4]),
    drop_line_commas=st.booleans(),
    bom=st.booleans(),
)
@example(  # a key differing only in case says -1: not a "0"
    document={"response": {"status": 100, "valid": -1, "VALID": 0}},
    indent=None,
    drop_line_commas=False,
    bom=False,
)
def test_odd_json_documents_never_turn_a_non_zero_valid_into_code_valid_true(
    document: Any, indent: int | None, drop_line_commas: bool, bom: bool
) -> None:
    body = (b"\xef\xbb\xbf" if bom else b"") + render_json(
        document, indent=indent, drop_line_commas=drop_line_commas
    )
    result = outcome(body, "json")
    if code_valid(result) is True:
        candidates = [
            [v for k, v in payload.items() if k.lower() == "valid"]
            for payload in json_payloads(document)
        ]
        assert any(valids and all(is_zero(v) for v in valids) for valids in candidates), (
            f"codeValid true, but the document's valid values are {candidates!r}"
        )


VALID_CASES: list[tuple[Any, bool | str | None]] = [
    (0, True),
    ("0", True),
    (" 0 ", True),
    (-1, False),
    ("-1", False),
    (None, None),
    ("", None),
    (1, "502"),
    ("abc", "502"),
    (True, "502"),
    (False, "502"),
]


@PROPERTY
@given(extra=st.dictionaries(KEYS, SCALARS, max_size=4), case=st.sampled_from(VALID_CASES))
def test_code_valid_follows_the_response_valid_whatever_else_is_there(
    extra: dict[str, Any], case: tuple[Any, bool | str | None]
) -> None:
    valid, expected = case
    # `failed` decides the kind of document (a failure), so it is not "anything else".
    response = {k: v for k, v in extra.items() if k.lower() not in ("status", "valid", "failed")}
    document = {"version": "1.0", "response": {**response, "status": 100, "valid": valid}}
    result = outcome(json.dumps(document).encode(), "json")
    if expected == "502":
        assert result is None
    else:
        assert isinstance(result, UpstreamAnswer)
        assert code_valid(result) is expected


# --- XML built from random text ----------------------------------------------------------

TAGS = st.sampled_from(
    ["response", "failed", "status", "valid", "error_code", "Status", "VALID", "x", "a"]
)
# Text XML 1.0 allows; & < > are escaped when rendered.
XML_TEXT = st.text(
    alphabet="0123456789 -+.abxyz\t\n\r<>&'\"\u00e9\u0661\u2028\U0001f600", max_size=8
) | (st.sampled_from(["0", "-1", " 0 ", "100", "0100", "-0", "+0", "abc", ""]))


@st.composite
def xml_elements(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(TAGS)
    if depth < 2 and draw(st.booleans()):
        children = draw(st.lists(xml_elements(depth + 1), max_size=3))
        inner = escape(draw(XML_TEXT)) + "".join(children)
    else:
        inner = escape(draw(XML_TEXT))
    return f"<{tag}>{inner}</{tag}>"


@PROPERTY
@given(
    root=xml_elements(),
    declaration=st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>\n']),
    bom=st.booleans(),
    crlf=st.booleans(),
)
def test_random_xml_never_raises_anything_but_upstream_errors(
    root: str, declaration: str, bom: bool, crlf: bool
) -> None:
    text = declaration + root
    if crlf:
        text = text.replace("\n", "\r\n")
    outcome((b"\xef\xbb\xbf" if bom else b"") + text.encode(), "xml")


@PROPERTY
@given(
    children=st.lists(
        st.tuples(st.sampled_from(["status", "valid", "Valid", "VALID", "x", "version"]), XML_TEXT),
        max_size=6,
    ),
    status=st.sampled_from(["100", "203", " 0100 "]),
)
@example(children=[("valid", "-1"), ("valid", "0")], status="100")
def test_vendor_shaped_xml_never_turns_a_non_zero_valid_into_code_valid_true(
    children: list[tuple[str, str]], status: str
) -> None:
    elements = [("status", status), *children]
    body = (
        "<response>"
        + "".join(f"<{tag}>{escape(text)}</{tag}>" for tag, text in elements)
        + "</response>"
    ).encode()
    result = outcome(body, "xml")
    if code_valid(result) is True:
        valids = [text for tag, text in children if tag.lower() == "valid"]
        assert valids, "codeValid true without any <valid> in the document"
        assert all(is_zero(v) for v in valids), f"codeValid true for valid={valids!r}"


# --- the same answer in both formats -----------------------------------------------------

VALUE_TEXT = st.sampled_from(
    ["100", "0100", " 203 ", "999", "1000", "-5", "0", "-1", "", " ", "abc", "1.5"]
) | st.text(alphabet="0123456789 -+.", max_size=5)


@PROPERTY
@given(
    children=st.lists(
        st.tuples(
            st.sampled_from(["status", "valid", "Status", "VALID", "version", "x"]), VALUE_TEXT
        ),
        max_size=5,
        unique_by=lambda pair: pair[0].lower(),
    ),
    code_sent=st.booleans(),
)
def test_the_same_answer_in_xml_and_json_gives_the_same_outcome(
    children: list[tuple[str, str]], code_sent: bool
) -> None:
    xml_body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<response>\n'
        + "".join(f"\t<{tag}>{escape(text)}</{tag}>\n" for tag, text in children)
        + "</response>\n"
    ).encode()
    json_body = json.dumps(
        {"version": "1.0", "encoding": "UTF-8", "response": dict(children)}, indent="\t"
    ).encode()
    from_xml = _normalised(xml_body, "xml", code_sent)
    from_json = _normalised(json_body, "json", code_sent)
    assert from_xml == from_json


def _normalised(body: bytes, fmt: UpstreamFormat, code_sent: bool) -> str:
    try:
        result = parse_upstream(body, fmt)
    except UpstreamError as error:
        return type(error).__name__
    assert isinstance(result, UpstreamAnswer)
    return to_response(RID, result, code_sent=code_sent).model_dump_json(by_alias=True)
