"""XML and JSON alike: one decision per kind of document, whatever its format.

Every logical document here is rendered twice, as XML and as JSON, and both renderings
must give the same outcome: the same answer, the same failure, or the same upstream
error (docs/upstream.md). `valid` (only 0 or -1: docs/api.md#success-response) and status
numbers accept only their exact ASCII spellings; this file is where those rules are tested.
"""

from __future__ import annotations

import json
from typing import Any, Final
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from telephone_status.errors import UpstreamError
from telephone_status.normalise import (
    UpstreamAnswer,
    UpstreamFailure,
    UpstreamFormat,
    parse_upstream,
)

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Raw(str):
    """A JSON number literal, written without quotes (its XML twin is the same text)."""


# A logical document: (key, value) pairs, keys may repeat; a value is text, a Raw
# number or nested pairs.
Pairs = list[tuple[str, Any]]


def to_json(pairs: Pairs) -> str:
    members = ", ".join(f"{json.dumps(key)}: {_json_value(value)}" for key, value in pairs)
    return "{" + members + "}"


def _json_value(value: Any) -> str:
    if isinstance(value, list):
        return to_json(value)
    if isinstance(value, Raw):
        return str(value)
    return json.dumps(value)


def to_xml(pairs: Pairs) -> str:
    return "".join(f"<{key}>{_xml_value(value)}</{key}>" for key, value in pairs)


def _xml_value(value: Any) -> str:
    return to_xml(value) if isinstance(value, list) else escape(str(value))


def renderings(pairs: Pairs) -> list[tuple[bytes, UpstreamFormat]]:
    """The document's XML and JSON forms (the vendor's wrappers included where they fit)."""
    forms: list[tuple[bytes, UpstreamFormat]] = [
        (to_json(pairs).encode(), "json"),
        (f"<response>{to_xml(pairs)}</response>".encode(), "xml"),
    ]
    if [key.lower() for key, _ in pairs] == ["failed"] and isinstance(pairs[0][1], list):
        forms.append((f"<failed>{to_xml(pairs[0][1])}</failed>".encode(), "xml"))
    if not any(key.lower() == "response" for key, _ in pairs):
        wrapped = [("version", "1.0"), ("encoding", "UTF-8"), ("response", pairs)]
        forms.append((to_json(wrapped).encode(), "json"))
        declaration = '<?xml version="1.0" encoding="UTF-8"?>\n'
        forms.append((f"{declaration}<response>{to_xml(pairs)}</response>".encode(), "xml"))
    return forms


def outcome(body: bytes, fmt: UpstreamFormat) -> tuple[Any, ...]:
    try:
        result = parse_upstream(body, fmt)
    except UpstreamError as error:
        return ("error", type(error).__name__)
    if isinstance(result, UpstreamFailure):
        return ("failure", result.error_code, result.is_unknown_reference)
    assert isinstance(result, UpstreamAnswer)
    return ("answer", result.status, result.valid)


def outcomes(pairs: Pairs) -> set[tuple[Any, ...]]:
    return {outcome(body, fmt) for body, fmt in renderings(pairs)}


def the_outcome(pairs: Pairs) -> tuple[Any, ...]:
    found = outcomes(pairs)
    assert len(found) == 1, f"XML and JSON disagree on {pairs!r}: {found!r}"
    return found.pop()


BAD = ("error", "UpstreamBadResponse")
UNAVAILABLE = ("error", "UpstreamUnavailable")
REJECTED_WITHOUT_CODE = (
    "failure",
    "MISSING",
    False,
)  # the code for a failure naming none

# --- each kind of document the upstream may send, as one logical document ------------------------

KINDS: Final[list[tuple[str, Pairs, tuple[Any, ...]]]] = [
    ("failed-text", [("failed", "oops")], REJECTED_WITHOUT_CODE),
    ("failed-empty", [("failed", "")], REJECTED_WITHOUT_CODE),
    ("failed-number", [("failed", Raw("5"))], REJECTED_WITHOUT_CODE),
    ("failed-no-error-code", [("failed", [("error_msg", "x")])], REJECTED_WITHOUT_CODE),
    ("failed-blank-error-code", [("failed", [("error_code", " ")])], REJECTED_WITHOUT_CODE),
    (
        "failed-unknown-reference",
        [("failed", [("error_code", "INVALID_TELEREFERENCE")])],
        ("failure", "INVALID_TELEREFERENCE", True),
    ),
    (
        "wrapped-failed",
        [("response", [("failed", [("error_code", "ACCOUNT_SUSPENDED")])])],
        ("failure", "ACCOUNT_SUSPENDED", False),
    ),
    ("wrapped-failed-text", [("response", [("failed", "oops")])], REJECTED_WITHOUT_CODE),
    (
        "failed-beats-status",
        [("response", [("status", Raw("100")), ("failed", [("error_code", "X")])])],
        ("failure", "X", False),
    ),
    ("status-100.0", [("response", [("status", Raw("100.0"))])], BAD),
    ("status-1e2", [("response", [("status", Raw("1e2"))])], BAD),
    ("status-text-1e2", [("response", [("status", "1e2")])], BAD),
    (
        "duplicated-response",
        [("response", [("status", Raw("100"))]), ("response", [("status", Raw("100"))])],
        BAD,
    ),
    ("duplicated-status", [("response", [("status", "100"), ("status", "100")])], BAD),
    ("duplicated-status-case", [("response", [("status", "100"), ("STATUS", "200")])], BAD),
    (
        "duplicated-failed",
        [("failed", [("error_code", "A")]), ("failed", [("error_code", "A")])],
        BAD,
    ),
    (
        "duplicated-error-code",
        [("failed", [("error_code", "INVALID_TELEREFERENCE"), ("error_code", "B")])],
        BAD,
    ),
    ("response-text", [("response", "ok"), ("status", Raw("100"))], BAD),
    ("response-empty", [("response", ""), ("status", Raw("100"))], ("answer", 100, None)),
    ("status-object", [("response", [("status", [("code", "100")])])], BAD),
    ("valid-object", [("response", [("status", "100"), ("valid", [("v", "0")])])], BAD),
    ("neither", [("response", [("valid", "0")])], UNAVAILABLE),
    ("nothing", [("version", "1.0")], UNAVAILABLE),
    ("unwrapped", [("status", Raw("203")), ("valid", Raw("-1"))], ("answer", 203, -1)),
]


@pytest.mark.parametrize(
    ("pairs", "expected"), [(p, e) for _, p, e in KINDS], ids=[k[0] for k in KINDS]
)
def test_each_kind_of_document_has_one_outcome_in_both_formats(
    pairs: Pairs, expected: tuple[Any, ...]
) -> None:
    assert the_outcome(pairs) == expected


# --- valid: only the integer 0 / -1 or the strings "0" / "-1" (ASCII whitespace trimmed) -----

ASCII_WHITESPACE: Final = " \t\r\n"
# Whitespace that is not ASCII (or not XML/JSON whitespace), and digits that are not ASCII.
NOT_ASCII_WHITESPACE: Final = "\x0b\x0c\x85\xa0\u1680\u2000\u2028\u2029\u202f\u3000\ufeff"
NOT_ASCII_DIGITS: Final = "\u0660\u06f0\u0966\uff10\U0001d7ce\u00b9\u2070\u2080\u2460"
VALID_ALPHABET: Final = "01-+.eExX_" + ASCII_WHITESPACE + NOT_ASCII_WHITESPACE + NOT_ASCII_DIGITS

# Every numeric spelling of 0 and -1 that is not exactly "0" or "-1".
NUMERIC_SPELLINGS: Final = [
    "-0", "+0", "00", "000", "0.0", "-0.0", "0.", ".0", "0e0", "0E0", "0e+0", "0e-0", "-0e0",
    "0.00", "-1.0", "-1e0", "-10e-1", "-0.1e1", "+1", "-01", "-1.", "0x0", "0_0", "-1_0",
    "0b0", "0o0", "1", "-2", "\u22121", "\u20101",
]  # fmt: skip


def expected_valid(text: str) -> tuple[Any, ...]:
    trimmed = text.strip(ASCII_WHITESPACE)
    if trimmed == "":
        return ("answer", 100, None)
    if trimmed in ("0", "-1"):
        return ("answer", 100, int(trimmed))
    return BAD


@PROPERTY
@given(text=st.text(alphabet=VALID_ALPHABET, max_size=6))
@example(text="0")
@example(text=" -1\n")
@example(text="\xa00")
@example(text="0\u3000")
@example(text="\u0660")
@example(text="+0")
@example(text="-0")
def test_valid_counts_only_in_its_exact_ascii_spellings(text: str) -> None:
    pairs: Pairs = [("response", [("status", "100"), ("valid", text)])]
    assert the_outcome(pairs) == expected_valid(text)


@pytest.mark.parametrize("spelling", NUMERIC_SPELLINGS)
def test_every_other_numeric_spelling_of_valid_fails_closed(spelling: str) -> None:
    assert the_outcome([("response", [("status", "100"), ("valid", spelling)])]) == BAD
    try:
        json.loads(spelling)
    except ValueError:
        return
    # A JSON number literal as well as a string: still only 0 and -1 themselves.
    assert the_outcome([("response", [("status", "100"), ("valid", Raw(spelling))])]) == BAD


@pytest.mark.parametrize("literal", ["0", "-1"])
def test_the_integer_literals_0_and_minus_1_count(literal: str) -> None:
    assert the_outcome([("response", [("status", Raw("100")), ("valid", Raw(literal))])]) == (
        "answer",
        100,
        int(literal),
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, BAD),
        (False, BAD),
        (0.5, BAD),
        ([0], BAD),
        ({"v": 0}, BAD),
        (None, ("answer", 100, None)),
    ],
    ids=repr,
)
def test_json_values_of_valid_with_no_xml_twin(value: Any, expected: tuple[Any, ...]) -> None:
    """Booleans, fractions and containers are not 0 or -1; null is no value, as an empty one is."""
    body = json.dumps({"response": {"status": 100, "valid": value}}).encode()
    assert outcome(body, "json") == expected


# --- status: ASCII digits only, in both formats ----------------------------------------------

STATUS_SPELLINGS_REJECTED: Final = [
    "100.0", "1e2", "1E2", "1e+2", "100e0", "10.0e1", "100.", "+100", "-100", "1_00", "0x64",
    "\uff11\uff10\uff10", "\u0661\u0660\u0660", "\U0001d7cf\U0001d7ce\U0001d7ce", "1\u00b2",
    "\xa0100", "100\u2028", "\u3000100", "1 00", "1000", "0x", "true",
]  # fmt: skip


@pytest.mark.parametrize("spelling", STATUS_SPELLINGS_REJECTED, ids=repr)
def test_status_spellings_that_are_not_ascii_digits_are_rejected_in_both_formats(
    spelling: str,
) -> None:
    assert the_outcome([("response", [("status", spelling)])]) == BAD
    try:
        json.loads(spelling)
    except ValueError:
        return
    assert the_outcome([("response", [("status", Raw(spelling))])]) == BAD


@PROPERTY
@given(
    status=st.integers(min_value=0, max_value=999),
    padding=st.integers(min_value=0, max_value=3),
    space=st.text(alphabet=ASCII_WHITESPACE, max_size=2),
    raw=st.booleans(),
)
def test_status_in_ascii_digits_is_read_alike(
    status: int, padding: int, space: str, raw: bool
) -> None:
    value: Any = Raw(str(status)) if raw else space + "0" * padding + str(status) + space
    assert the_outcome([("response", [("status", value)])]) == ("answer", status, None)


# --- any logical document: XML and JSON agree ------------------------------------------------

KEYS = st.sampled_from(
    ["response", "failed", "status", "valid", "error_code", "Status", "VALID", "Failed", "x"]
)
TEXTS = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "-0",
        "100",
        " 203 ",
        "0100",
        "100.0",
        "1e2",
        "oops",
        "INVALID_TELEREFERENCE",
    ]
) | st.text(alphabet="0123456789 -+.eabc\n\t\xa0\u0661", max_size=5)
RAWS = st.sampled_from(["0", "-1", "-0", "100", "203", "100.0", "1e2", "1E2", "0.0", "5"]).map(Raw)
VALUES = st.recursive(
    TEXTS | RAWS, lambda inner: st.lists(st.tuples(KEYS, inner), max_size=3), max_leaves=8
)
DOCUMENTS = st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=4)


@PROPERTY
@given(pairs=DOCUMENTS)
@example(pairs=[("failed", "oops")])
@example(pairs=[("response", [("failed", [("error_code", "X")])])])
@example(pairs=[("response", [("status", "100")]), ("response", [("status", "100")])])
def test_any_document_gives_the_same_outcome_in_xml_and_json(pairs: Pairs) -> None:
    the_outcome(pairs)


# --- codes and keys compare by ASCII case only -----------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "\u0131nvalid_telereference",  # dotless i: upper() gives I
        "INVAL\u0130D_TELEREFERENCE",  # dotted capital I
        "\uff29\uff2e\uff36\uff21\uff2c\uff29\uff24_TELEREFERENCE",  # fullwidth
        "INVALID_TELEREFERENCE\xa0X",
        "INVALID\u2010TELEREFERENCE",
    ],
)
def test_unicode_lookalikes_of_the_unknown_reference_code_are_other_failures(code: str) -> None:
    result = the_outcome([("failed", [("error_code", code)])])
    assert result[0] == "failure"
    assert result[2] is False


@pytest.mark.parametrize(
    "code", ["invalid_telereference", "Invalid_TeleReference", " INVALID_TELEREFERENCE\t"]
)
def test_ascii_case_of_the_unknown_reference_code_does_not_matter(code: str) -> None:
    assert the_outcome([("failed", [("error_code", code)])])[2] is True


@pytest.mark.parametrize("key", ["\u017ftatus", "STATU\u017f", "VAL\u0130D"])
def test_keys_compare_by_ascii_case_only(key: str) -> None:
    """Long s (U+017F) upper-cases to S, U+0130 lower-cases to i + dot: neither is a field.

    (Expat refuses these characters in element names, so only JSON can send them.)
    """
    body = to_json([("response", [("status", "100"), (key, "0")])]).encode()
    assert outcome(body, "json") == ("answer", 100, None)
    body = to_json([("response", [(key.replace("VAL\u0130D", "x"), "100")])]).encode()
    assert outcome(body, "json") == UNAVAILABLE
