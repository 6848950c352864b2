"""SPEC §3 edges (issue 11, items 3, 7, 8, 9, 13), each as a class of inputs.

- a JSON PIN is an integer literal only (no fraction, no exponent);
- a POST takes its fields from its body only;
- queryStringParameters and multiValueQueryStringParameters must agree;
- every value of a repeated field is validated, then canonical forms are compared;
- a charset is accepted when the body decodes to the same text in it as in UTF-8.
"""

from __future__ import annotations

import base64
import json
import unicodedata
from typing import Any, Final

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from telephone_status.errors import FieldError, InvalidRequest
from telephone_status.models import CODE_MESSAGE, REFERENCE_ID_MESSAGE, TelephoneStatusRequest
from telephone_status.request import _field_errors, event_shape_errors, parse_request

from tests.unit.test_request import FORM_CT, JSON_CT, RID, fields, make_event, rejected

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DIFFERENT: Final = "given more than once with different values"


def json_post(body: str, query: dict[str, str] | None = None) -> APIGatewayProxyEvent:
    return make_event("POST", body=body, content_type=JSON_CT, query=list((query or {}).items()))


def raw_event(
    method: str,
    single: dict[str, str] | None,
    multi: dict[str, list[str]] | None,
    body: str | None = None,
) -> APIGatewayProxyEvent:
    return APIGatewayProxyEvent(
        {
            "resource": "/v1/telephone-status",
            "path": "/v1/telephone-status",
            "httpMethod": method,
            "headers": {"Content-Type": JSON_CT} if body else None,
            "queryStringParameters": single,
            "multiValueQueryStringParameters": multi,
            "body": body,
            "isBase64Encoded": False,
            "requestContext": {"requestId": "req-1", "stage": "test"},
        }
    )


# --- item 3: a JSON PIN is an integer literal ------------------------------------------------

NON_INTEGER_LITERALS: Final = [
    "100.0", "16322.0", "16322.00", "1e4", "1E4", "1e+4", "10000e0", "1.6322e4", "1.6322E+4",
    "100.000000000000001", "16322.000000000001", "99999.0", "100e0", "0.16322e5", "163220e-1",
    "1.0e2", "-0.0", "1e400",
]  # fmt: skip


@pytest.mark.parametrize("literal", NON_INTEGER_LITERALS)
def test_a_json_pin_with_a_fraction_or_exponent_is_rejected(literal: str) -> None:
    errors = rejected(json_post(f'{{"referenceId": "{RID}", "code": {literal}}}'))
    assert errors == [FieldError("code", CODE_MESSAGE)]


@PROPERTY
@given(
    pin=st.integers(min_value=100, max_value=99999),
    form=st.sampled_from(["{}.0", "{}e0", "{}E0", "{}.000", "{}0e-1"]),
)
def test_every_integer_pin_written_as_a_float_is_rejected(pin: int, form: str) -> None:
    literal = form.format(pin)
    assert fields(json_post(f'{{"referenceId": "{RID}", "code": {literal}}}')) == ["code"]


@PROPERTY
@given(pin=st.integers(min_value=-(10**6), max_value=10**6))
def test_a_json_integer_literal_pin_is_accepted_only_in_range(pin: int) -> None:
    event = json_post(f'{{"referenceId": "{RID}", "code": {pin}}}')
    if 100 <= pin <= 99999:
        assert parse_request(event).code == str(pin)
    else:
        assert fields(event) == ["code"]


def test_a_fractional_reference_id_is_not_a_string_either() -> None:
    assert fields(json_post('{"referenceId": 1e31}')) == ["referenceId"]


# --- item 7: a POST takes fields from its body only ---------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"code": "16322"},
        {"referenceId": RID},
        {"referenceid": RID},
        {"other": "x"},
        {"code": ""},
    ],
    ids=repr,
)
@pytest.mark.parametrize("content_type", [JSON_CT, FORM_CT])
def test_a_query_field_on_a_post_is_rejected(query: dict[str, str], content_type: str) -> None:
    body = json.dumps({"referenceId": RID}) if content_type == JSON_CT else f"referenceId={RID}"
    event = make_event("POST", body=body, content_type=content_type, query=list(query.items()))
    with pytest.raises(InvalidRequest) as info:
        parse_request(event)
    assert "16322" not in repr(info.value.errors)
    assert any("body only" in error.message for error in info.value.errors)


def test_a_query_field_identical_to_the_body_is_still_rejected_on_a_post() -> None:
    event = json_post(json.dumps({"referenceId": RID, "code": "16322"}), {"code": "16322"})
    assert "code" in fields(event)


def test_a_post_without_a_body_does_not_read_the_query() -> None:
    event = make_event("POST", query=[("referenceId", RID)])
    errors = rejected(event)
    assert any("body only" in error.message for error in errors)


def test_a_get_still_reads_the_query() -> None:
    assert parse_request(make_event("GET", query=[("referenceId", RID)])).reference_id == RID


# --- item 8: the two query maps must agree -------------------------------------------------------

OTHER: Final = "A" * 32


@pytest.mark.parametrize(
    ("single", "multi"),
    [
        ({"referenceId": RID}, None),
        (None, {"referenceId": [RID]}),
        ({"referenceId": RID}, {"referenceId": [RID]}),
        ({"referenceId": RID, "code": "123"}, {"referenceId": [RID], "code": ["123"]}),
        ({"referenceId": RID}, {"referenceId": [RID, RID]}),
    ],
    ids=repr,
)
def test_query_maps_that_agree_are_accepted(
    single: dict[str, str] | None, multi: dict[str, list[str]] | None
) -> None:
    assert parse_request(raw_event("GET", single, multi)).reference_id == RID


@pytest.mark.parametrize(
    ("single", "multi"),
    [
        ({"referenceId": RID, "code": "123"}, {"referenceId": [RID]}),  # dropped before
        ({"referenceId": RID}, {"referenceId": [RID], "code": ["123"]}),
        ({"referenceId": RID}, {"referenceId": [OTHER]}),
        ({"referenceId": OTHER}, {"referenceId": [OTHER, RID]}),  # not the last
        ({"referenceId": RID}, {"referenceId": []}),
        ({"referenceId": RID}, {"referenceid": [RID]}),  # same field, other key
        ({"referenceId": RID}, {}),
        ({}, {"referenceId": [RID]}),
    ],
    ids=repr,
)
def test_query_maps_that_disagree_are_rejected(
    single: dict[str, str] | None, multi: dict[str, list[str]] | None
) -> None:
    errors = rejected(raw_event("GET", single, multi))
    assert any(error.field == "query" for error in errors), errors


@pytest.mark.parametrize(
    ("single", "multi"),
    [
        (["referenceId"], None),
        ("referenceId=x", None),
        (None, {"referenceId": RID}),
        ({"referenceId": RID}, {"referenceId": RID}),
        (None, ["referenceId"]),
    ],
    ids=repr,
)
def test_malformed_query_maps_of_a_hand_made_event_are_a_400(single: Any, multi: Any) -> None:
    errors = rejected(raw_event("GET", single, multi))
    assert any(error.field == "query" for error in errors), errors


NAMES = st.sampled_from(["referenceId", "referenceid", "code"])
VALUES = st.sampled_from([RID, OTHER, "123"])


@PROPERTY
@given(
    single=st.dictionaries(NAMES, VALUES, max_size=3),
    multi=st.dictionaries(NAMES, st.lists(VALUES, max_size=3), max_size=3),
)
@example(single={"referenceId": RID, "code": "123"}, multi={"referenceId": [RID]})
def test_any_disagreement_of_the_query_maps_is_a_400_never_a_silent_choice(
    single: dict[str, str], multi: dict[str, list[str]]
) -> None:
    agree = set(single) == set(multi) and all(
        multi[name] and multi[name][-1] == value for name, value in single.items()
    )
    event = raw_event("GET", single, multi)  # both present (an empty map is present)
    try:
        parse_request(event)
    except InvalidRequest as error:
        query_error = any(e.field == "query" for e in error.errors)
        assert query_error == (not agree)
        return
    assert agree


# --- item 9: every value of a repeated field is validated -----------------------------------


def _case_folding_traps() -> list[str]:
    """Characters (not ASCII) whose upper case or case fold contains ASCII hex letters."""
    traps = []
    for codepoint in range(0x80, 0x10000):
        char = chr(codepoint)
        for folded in (char.upper(), char.casefold(), unicodedata.normalize("NFKC", char)):
            if folded and folded.isascii() and all(c in "0123456789ABCDEFabcdef" for c in folded):
                traps.append(char)
                break
    return traps


CASE_TRAPS: Final = _case_folding_traps()


def test_the_trap_list_is_not_empty() -> None:
    assert "\ufb00" in CASE_TRAPS  # the ff ligature, the example
    assert "\uff21" in CASE_TRAPS  # fullwidth A


@pytest.mark.parametrize("trap", CASE_TRAPS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("transport", ["query", "json", "form"])
def test_a_repeated_reference_id_with_a_unicode_lookalike_is_validated(
    trap: str, transport: str
) -> None:
    width = len(trap.upper())
    second = RID[: 32 - width] + trap
    first = RID[: 32 - width] + trap.upper() if trap.upper().isascii() else RID
    if transport == "query":
        event = make_event("GET", query=[("referenceId", first), ("referenceid", second)])
    elif transport == "json":
        event = json_post(json.dumps({"referenceId": first, "referenceid": second}))
    else:
        event = make_event(
            "POST", body=f"referenceId={first}&referenceId={second}", content_type=FORM_CT
        )
    errors = rejected(event)
    assert FieldError("referenceId", REFERENCE_ID_MESSAGE) in errors


@pytest.mark.parametrize(
    "second",
    [
        "\uff11\uff16\uff13\uff12\uff12",
        "\u0661\u0666\u0663\u0662\u0662",
        "16322\u200b",
        "1632\u00b2",
    ],
)
def test_a_repeated_code_with_non_ascii_digits_is_validated(second: str) -> None:
    event = make_event("GET", query=[("referenceId", RID), ("code", "16322"), ("code", second)])
    assert FieldError("code", CODE_MESSAGE) in rejected(event)


@pytest.mark.parametrize(
    "body",
    [
        f'{{"referenceId": "{RID}", "referenceid": "{RID.lower()}"}}',
        f'{{"referenceId": "{RID}", "code": 16322, "code": "16322"}}',
    ],
)
def test_repeated_values_with_the_same_canonical_form_are_accepted(body: str) -> None:
    assert parse_request(json_post(body)).reference_id == RID


def test_a_valid_but_different_second_value_is_still_a_conflict() -> None:
    event = make_event("GET", query=[("referenceId", RID), ("referenceId", OTHER)])
    assert rejected(event) == [FieldError("referenceId", DIFFERENT)]


def test_an_invalid_first_value_and_a_valid_second_are_both_reported() -> None:
    event = make_event("GET", query=[("code", "12"), ("code", "123"), ("referenceId", RID)])
    errors = rejected(event)
    assert FieldError("code", CODE_MESSAGE) in errors


# --- item 13: charsets that decode to the same text ----------------------------------------

SAME_TEXT_CHARSETS: Final = [
    "utf-8", "UTF-8", "utf8", '"utf-8"', '"UTF-8"', "us-ascii", "US-ASCII", '"us-ascii"', "ascii",
    "iso-8859-1", "ISO-8859-1", "ISO_8859-1", "latin1", "Latin-1", '"iso-8859-1"', "windows-1252",
    "iso-8859-15", '"utf\\-8"',
]  # fmt: skip


@pytest.mark.parametrize("charset", SAME_TEXT_CHARSETS)
@pytest.mark.parametrize("content_type", [JSON_CT, FORM_CT])
@pytest.mark.parametrize(
    "spacing", ["; charset={}", ";charset={}", " ; CHARSET={}", "; Charset={} "]
)
def test_a_charset_in_which_a_pure_ascii_body_reads_the_same_is_accepted(
    charset: str, content_type: str, spacing: str
) -> None:
    body = json.dumps({"referenceId": RID}) if content_type == JSON_CT else f"referenceId={RID}"
    event = make_event("POST", body=body, content_type=content_type + spacing.format(charset))
    assert parse_request(event).reference_id == RID


@pytest.mark.parametrize(
    "charset",
    [
        "utf-16",
        "utf-16le",
        "utf-32",
        "cp037",
        "klingon",
        "",
        '""',
        "rot13",
        "base64",
        "hex",
        "zlib",
        "utf\u20108",
        "utf-8\u00a0",
        "utf 8",
        '"utf-8',
        "utf-8, latin1",
    ],
    ids=repr,
)
def test_a_charset_that_reads_otherwise_or_is_unknown_is_rejected(charset: str) -> None:
    event = make_event(
        "POST", body=json.dumps({"referenceId": RID}), content_type=f"{JSON_CT}; charset={charset}"
    )
    assert fields(event) == ["body"]


@pytest.mark.parametrize("charset", ["iso-8859-1", "us-ascii", "windows-1252", "latin1"])
def test_a_non_ascii_body_in_a_charset_that_reads_it_otherwise_is_rejected(charset: str) -> None:
    body = '{"referenceId": "' + RID + '", "caf\u00e9": 1}'
    event = make_event("POST", body=body, content_type=f"{JSON_CT}; charset={charset}")
    assert fields(event) == ["body"]


def test_two_charsets_that_disagree_are_rejected() -> None:
    event = make_event(
        "POST",
        body=json.dumps({"referenceId": RID}),
        content_type=f"{JSON_CT}; charset=utf-8; charset=utf-16",
    )
    assert fields(event) == ["body"]


@PROPERTY
@given(
    charset=st.sampled_from(["us-ascii", "iso-8859-1", "utf-8", "windows-1252", "utf-16"]),
    text=st.text(st.characters(exclude_categories=["Cs"]), max_size=8),
)
def test_a_charset_is_accepted_exactly_when_the_body_reads_the_same(
    charset: str, text: str
) -> None:
    body = json.dumps({"referenceId": RID, "note": text}, ensure_ascii=False)
    raw = body.encode("utf-8")
    try:
        same = raw.decode(charset) == body
    except UnicodeDecodeError:
        same = False
    event = make_event("POST", body=body, content_type=f"{JSON_CT}; charset={charset}")
    errors = rejected(event)  # "note" is an unknown field: a 400 either way
    assert any(error.field == "body" for error in errors) == (not same)


# --- Content-Type: exact spellings, ASCII rules ------------------------------------------------


@pytest.mark.parametrize(
    "media_type", ["application/vnd.api+json", "APPLICATION/MERGE-PATCH+JSON; charset=utf-8"]
)
def test_a_structured_syntax_json_media_type_is_read_as_json(media_type: str) -> None:
    event = make_event("POST", body=json.dumps({"referenceId": RID}), content_type=media_type)
    assert parse_request(event).reference_id == RID


@pytest.mark.parametrize(
    "content_type",
    [
        "text/vnd.api+json",
        "application/json+xml",
        "application/json\r\n",
        "application/json\n",
        "\u00a0application/json",
        "application/json\u2003",
        "application/json\x0b",
        "application/jsonX",
    ],
    ids=["text-plus-json", "json-plus-xml", "crlf", "lf", "nbsp", "em-space", "vt", "trailing-x"],
)
def test_a_media_type_is_read_by_ascii_rules_only(content_type: str) -> None:
    event = make_event("POST", body=json.dumps({"referenceId": RID}), content_type=content_type)
    assert fields(event) == ["Content-Type"]


@pytest.mark.parametrize(
    ("parameters", "accepted"),
    [
        ("; charset=utf-8X", False),
        ("; charset=utf-8=x", False),
        # Not a charset parameter (HTTP whitespace is SP and HTAB only): ignored, as any other.
        (";\u00a0charset=utf-16", True),
        (";\x0bcharset=utf-16", True),
        ("; charsetX=utf-16", True),
    ],
    ids=["value-trailing-x", "second-equals", "nbsp-name", "vt-name", "name-trailing-x"],
)
def test_only_a_charset_parameter_spelled_exactly_is_read(parameters: str, accepted: bool) -> None:
    event = make_event(
        "POST", body=json.dumps({"referenceId": RID}), content_type=JSON_CT + parameters
    )
    if accepted:
        assert parse_request(event).reference_id == RID
    else:
        assert fields(event) == ["body"]


def test_a_lone_surrogate_in_a_body_is_a_400() -> None:
    event = make_event("POST", body='{"referenceId": "\ud800"}', content_type=JSON_CT)
    assert fields(event) == ["body"]


def test_a_base64_body_with_a_stray_character_is_refused_not_skipped() -> None:
    encoded = base64.b64encode(json.dumps({"referenceId": RID}).encode()).decode()
    event = make_event(
        "POST", body=encoded[:8] + "*" + encoded[8:], content_type=JSON_CT, base64_encoded=True
    )
    assert fields(event) == ["body"]


def test_an_unknown_field_name_is_echoed_cut_to_64_characters() -> None:
    event = make_event("GET", query=[("x" * 100, "1"), ("referenceId", RID)])
    assert fields(event) == ["x" * 64]


def test_model_errors_name_their_field_and_say_what_is_wrong() -> None:
    with pytest.raises(ValidationError) as info:
        TelephoneStatusRequest.model_validate({"referenceId": RID, "code": "zz", "other": 1})
    assert _field_errors(info.value) == [
        FieldError("code", CODE_MESSAGE),
        FieldError("other", "Extra inputs are not permitted"),
    ]
    with pytest.raises(ValidationError) as info:
        TelephoneStatusRequest.model_validate("not an object")
    assert [error.field for error in _field_errors(info.value)] == ["body"]


@pytest.mark.parametrize("event", [[], "event", None], ids=["list", "str", "none"])
def test_an_event_that_is_not_a_map_is_named_as_the_event(event: object) -> None:
    (error,) = event_shape_errors(event)
    assert error.field == "event"
    assert error.message
