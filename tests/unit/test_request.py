"""Request validation, through parse_request on API Gateway REST (1.0) events.

The rules are in docs/api.md#request. Besides examples, each of these is tested as a class
of inputs (the later sections):

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
from telephone_status.request import (
    MAX_BODY_BYTES,
    QUERY_ON_POST,
    _field_errors,
    event_shape_errors,
    parse_request,
)

RID = "97A677DD3E0A42B8EA58D93D05BAC89F"
RID_LOWER = RID.lower()
RID_MIXED = "97a677DD3e0A42b8Ea58d93D05bAC89f"
JSON_CT = "application/json"
FORM_CT = "application/x-www-form-urlencoded"


def make_event(
    method: str = "GET",
    *,
    query: list[tuple[str, str]] | None = None,
    body: str | None = None,
    content_type: str | None = None,
    base64_encoded: bool = False,
) -> APIGatewayProxyEvent:
    """An API Gateway REST proxy (1.0) event, as API Gateway builds it."""
    headers = {"Content-Type": content_type} if content_type is not None else {}
    multi_query: dict[str, list[str]] = {}
    for name, value in query or []:
        multi_query.setdefault(name, []).append(value)
    return APIGatewayProxyEvent(
        {
            "resource": "/v1/telephone-status",
            "path": "/v1/telephone-status",
            "httpMethod": method,
            "headers": headers or None,
            "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
            # API Gateway keeps the last value of a repeated name in the single-value map.
            "queryStringParameters": dict(query) if query else None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": None,
            "body": body,
            "isBase64Encoded": base64_encoded,
            "requestContext": {"requestId": "req-1", "stage": "test"},
        }
    )


def get(*query: tuple[str, str]) -> APIGatewayProxyEvent:
    return make_event("GET", query=list(query))


def post_json(document: Any, *query: tuple[str, str]) -> APIGatewayProxyEvent:
    body = document if isinstance(document, str) else json.dumps(document)
    return make_event("POST", query=list(query), body=body, content_type=JSON_CT)


def post_form(body: str, *query: tuple[str, str]) -> APIGatewayProxyEvent:
    return make_event("POST", query=list(query), body=body, content_type=FORM_CT)


def rejected(event: APIGatewayProxyEvent) -> list[FieldError]:
    with pytest.raises(InvalidRequest) as info:
        parse_request(event)
    assert info.value.errors, "an InvalidRequest must name at least one field"
    # The problem body carries each message: a missing one would be a 500, not this 400.
    assert all(isinstance(e.message, str) and e.message for e in info.value.errors)
    return info.value.errors


def fields_of(request: TelephoneStatusRequest) -> tuple[str, str | None]:
    return request.reference_id, request.code


def fields(event: APIGatewayProxyEvent) -> list[str]:
    return [error.field for error in rejected(event)]


# The same field in each of the three transports docs/api.md#request names.
TRANSPORTS = {
    "query": lambda pairs: get(*pairs),
    "json": lambda pairs: post_json(dict(pairs)),
    "form": lambda pairs: post_form("&".join(f"{k}={v}" for k, v in pairs)),
}


# --- referenceId -------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("given", [RID, RID_LOWER, RID_MIXED])
@pytest.mark.parametrize("name", ["referenceId", "referenceid"])
def test_reference_id_any_case_is_canonicalised_to_upper_case(
    transport: str, given: str, name: str
) -> None:
    request = parse_request(TRANSPORTS[transport]([(name, given)]))
    assert (request.reference_id, request.code) == (RID, None)


@pytest.mark.parametrize(
    "given",
    [
        pytest.param(RID[:31], id="31-chars"),
        pytest.param(RID + "A", id="33-chars"),
        pytest.param("G" + RID[1:], id="non-hex-G"),
        pytest.param(RID[:31] + "-", id="non-hex-dash"),
        pytest.param(" " + RID, id="leading-space"),
        pytest.param(RID + " ", id="trailing-space"),
        pytest.param(RID + "\n", id="trailing-newline"),
        pytest.param(RID[:16] + " " + RID[17:], id="inner-space"),
        pytest.param("\uff10" + RID[1:], id="fullwidth-digit"),
        pytest.param("", id="empty"),
    ],
)
@pytest.mark.parametrize("transport", ["query", "json"])
def test_malformed_reference_id_is_rejected(given: str, transport: str) -> None:
    errors = rejected(TRANSPORTS[transport]([("referenceId", given)]))
    assert errors == [FieldError("referenceId", REFERENCE_ID_MESSAGE)]


@pytest.mark.parametrize("value", [None, 97, True, [RID], {"id": RID}])
def test_reference_id_must_be_a_json_string(value: Any) -> None:
    assert fields(post_json({"referenceId": value})) == ["referenceId"]


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(get(), id="get-no-query"),
        pytest.param(get(("code", "12345")), id="get-code-only"),
        pytest.param(post_json({}), id="json-empty-object"),
        pytest.param(post_json({"code": "12345"}), id="json-code-only"),
        pytest.param(make_event("POST"), id="post-no-body"),
    ],
)
def test_missing_reference_id_is_rejected(event: APIGatewayProxyEvent) -> None:
    assert rejected(event) == [FieldError("referenceId", "is required")]


# --- code --------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("code", ["100", "101", "999", "1000", "16322", "99999"])
def test_valid_pin_strings_are_accepted_as_given(transport: str, code: str) -> None:
    request = parse_request(TRANSPORTS[transport]([("referenceId", RID), ("code", code)]))
    assert request.code == code
    assert request.reference_id == RID


@pytest.mark.parametrize(
    ("given", "expected"),
    # docs/api.md#request: an integer literal only (16322.0 and 1e4: see the JSON PIN section).
    [(100, "100"), (12345, "12345"), (99999, "99999")],
)
def test_pin_as_json_integer_is_accepted_as_its_digits(given: int, expected: str) -> None:
    assert parse_request(post_json({"referenceId": RID, "code": given})).code == expected


INVALID_PIN_STRINGS = [
    pytest.param("99", id="99"),
    pytest.param("100000", id="100000"),
    pytest.param("0123", id="leading-zero"),
    pytest.param("00100", id="leading-zeros-5"),
    pytest.param("000", id="zeros"),
    pytest.param(" 123", id="leading-space"),
    pytest.param("123 ", id="trailing-space"),
    pytest.param("123\n", id="trailing-newline"),
    pytest.param("1 23", id="inner-space"),
    pytest.param("+123", id="plus-sign"),
    pytest.param("-123", id="minus-sign"),
    pytest.param("12a", id="letter"),
    pytest.param("12.3", id="decimal"),
    pytest.param("1e3", id="exponent"),
    pytest.param("\u0661\u0662\u0663", id="arabic-indic-digits"),
    pytest.param("\uff11\uff12\uff13", id="fullwidth-digits"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("code", INVALID_PIN_STRINGS)
def test_malformed_pin_string_is_rejected(transport: str, code: str) -> None:
    if transport == "form":
        # Percent-encode so that the form body carries exactly these characters.
        event = post_form(
            f"referenceId={RID}&code=" + "".join(f"%{b:02X}" for b in code.encode("utf-8"))
        )
    else:
        event = TRANSPORTS[transport]([("referenceId", RID), ("code", code)])
    assert rejected(event) == [FieldError("code", CODE_MESSAGE)]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(True, id="true"),
        pytest.param(False, id="false"),
        pytest.param(12.0, id="float-12.0"),
        pytest.param(123.5, id="float-123.5"),
        pytest.param(99, id="int-99"),
        pytest.param(100000, id="int-100000"),
        pytest.param(-123, id="int-negative"),
        pytest.param([], id="empty-array"),
        pytest.param(["12345"], id="array"),
        pytest.param({}, id="empty-object"),
        pytest.param({"code": "12345"}, id="object"),
        # docs/api.md#request: the code is "a string (or JSON integer)"; the OpenAPI schema for
        # it is oneOf string/integer. null is neither, so it is a malformed field.
        pytest.param(None, id="null"),
    ],
)
def test_pin_of_another_json_type_is_rejected(value: Any) -> None:
    assert rejected(post_json({"referenceId": RID, "code": value})) == [
        FieldError("code", CODE_MESSAGE)
    ]


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(get(("referenceId", RID), ("code", "073195")), id="query"),
        pytest.param(post_json({"referenceId": RID, "code": "073195"}), id="json"),
        pytest.param(post_form(f"referenceId={RID}&code=073195"), id="form"),
        pytest.param(post_json({"referenceId": RID[:5], "code": "073195"}), id="bad-reference"),
        pytest.param(get(("referenceId", RID), ("code", "073195"), ("code", "73196")), id="twice"),
    ],
)
def test_no_error_repeats_the_submitted_pin(event: APIGatewayProxyEvent) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_request(event)
    texts = [str(info.value), info.value.reason, info.value.detail]
    texts += [f"{e.field} {e.message}" for e in info.value.errors]
    for text in texts:
        assert "73195" not in text
        assert "73196" not in text


# --- unknown and repeated fields ---------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(get(("referenceId", RID), ("pin", "12345")), id="query"),
        pytest.param(post_json({"referenceId": RID, "pin": "12345"}), id="json"),
        pytest.param(post_form(f"referenceId={RID}&pin=12345"), id="form"),
        pytest.param(post_json({"referenceId": RID, "pin": None}), id="json-null"),
    ],
)
def test_unknown_field_is_rejected_by_name(event: APIGatewayProxyEvent) -> None:
    assert rejected(event) == [FieldError("pin", "unknown field")]


@pytest.mark.parametrize(
    "name", ["key", "REFERENCEID", "ReferenceId", "reference_id", "Code", "referenceId "]
)
def test_near_miss_field_names_are_unknown_fields(name: str) -> None:
    errors = rejected(post_json({"referenceId": RID, name: "12345"}))
    assert errors == [FieldError(name, "unknown field")]


def test_unprintable_unknown_field_name_is_made_printable() -> None:
    errors = rejected(post_json({"referenceId": RID, "a\u0000b\nc": 1}))
    assert errors == [FieldError("a?b?c", "unknown field")]


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(get(("referenceId", RID), ("referenceId", RID)), id="query-repeat"),
        pytest.param(get(("referenceId", RID), ("referenceId", RID_LOWER)), id="query-case"),
        pytest.param(get(("referenceId", RID), ("referenceid", RID_MIXED)), id="alias-pair"),
        pytest.param(post_json(f'{{"referenceId":"{RID}","referenceId":"{RID}"}}'), id="json-dup"),
        pytest.param(
            post_json(f'{{"referenceId":"{RID_LOWER}","referenceid":"{RID}"}}'), id="json-alias"
        ),
        pytest.param(post_form(f"referenceId={RID}&referenceid={RID_LOWER}"), id="form-alias"),
    ],
)
def test_reference_id_given_twice_with_the_same_value_is_accepted(
    event: APIGatewayProxyEvent,
) -> None:
    assert parse_request(event).reference_id == RID


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(get(("referenceId", RID), ("code", "123"), ("code", "123")), id="query"),
        pytest.param(
            post_json(f'{{"referenceId":"{RID}","code":"123","code":"123"}}'), id="json-dup"
        ),
        pytest.param(
            post_json(f'{{"referenceId":"{RID}","code":123,"code":"123"}}'), id="json-int-and-str"
        ),
        pytest.param(post_form(f"referenceId={RID}&code=123&code=123"), id="form"),
    ],
)
def test_code_given_twice_with_the_same_value_is_accepted(event: APIGatewayProxyEvent) -> None:
    assert parse_request(event).code == "123"


REPEATED_WITH_DIFFERENT_VALUES = [
    pytest.param(get(("referenceId", RID), ("referenceId", "A" * 32)), "referenceId", id="query"),
    pytest.param(get(("referenceId", RID), ("referenceid", "A" * 32)), "referenceId", id="alias"),
    pytest.param(
        post_json(f'{{"referenceId":"{RID}","referenceid":"{"A" * 32}"}}'),
        "referenceId",
        id="json-alias",
    ),
    pytest.param(
        post_json(f'{{"referenceId":"{RID}","referenceId":"{"A" * 32}"}}'),
        "referenceId",
        id="json-duplicate-key",
    ),
    pytest.param(get(("referenceId", RID), ("code", "123"), ("code", "124")), "code", id="q-code"),
    pytest.param(
        post_json(f'{{"referenceId":"{RID}","code":"123","code":"124"}}'), "code", id="json-code"
    ),
    pytest.param(post_form(f"referenceId={RID}&code=123&code=124"), "code", id="form-code"),
]


@pytest.mark.parametrize(("event", "field"), REPEATED_WITH_DIFFERENT_VALUES)
def test_field_given_twice_with_different_values_is_rejected(
    event: APIGatewayProxyEvent, field: str
) -> None:
    errors = rejected(event)
    assert FieldError(field, "given more than once with different values") in errors


# --- JSON bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[]", id="array"),
        pytest.param(f'[{{"referenceId":"{RID}"}}]', id="array-of-object"),
        pytest.param(f'"{RID}"', id="string"),
        pytest.param("12345", id="number"),
        pytest.param("null", id="null"),
        pytest.param("true", id="true"),
    ],
)
def test_json_body_that_is_not_an_object_is_rejected(body: str) -> None:
    assert rejected(post_json(body)) == [FieldError("body", "the JSON body must be an object")]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("{", id="truncated"),
        pytest.param(f'{{"referenceId":"{RID}",}}', id="trailing-comma"),
        pytest.param(f"{{'referenceId':'{RID}'}}", id="single-quotes"),
        pytest.param(f'{{"referenceId":"{RID}"}} x', id="trailing-garbage"),
        pytest.param(f'{{"referenceId":"{RID}","code":NaN}}', id="NaN"),
        pytest.param(f'{{"referenceId":"{RID}","code":Infinity}}', id="Infinity"),
        pytest.param(f'{{"referenceId":"{RID}","code":-Infinity}}', id="-Infinity"),
        pytest.param(f'{{"referenceId":"{RID}","code":012345}}', id="leading-zero-number"),
        pytest.param("[" * 2000 + "]" * 2000, id="deeply-nested"),
    ],
)
def test_invalid_json_is_rejected(body: str) -> None:
    assert rejected(post_json(body)) == [FieldError("body", "the body is not valid JSON")]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        'application/json; charset="utf-8"',
        "Application/JSON",
    ],
)
@pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["no-bom", "bom"])
def test_json_content_types_and_bom_are_accepted(content_type: str, bom: str) -> None:
    body = bom + json.dumps({"referenceId": RID, "code": "16322"})
    event = make_event("POST", body=body, content_type=content_type)
    assert fields_of(parse_request(event)) == (RID, "16322")


@pytest.mark.parametrize("charset", ["utf-16", "utf-32", "cp500"])
def test_non_utf8_charset_is_rejected(charset: str) -> None:
    event = make_event(
        "POST", body=json.dumps({"referenceId": RID}), content_type=f"{JSON_CT}; charset={charset}"
    )
    assert fields(event) == ["body"]


# --- form bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(f"referenceId={RID}&code=16322", id="plain"),
        pytest.param(f"code=16322&referenceid={RID_LOWER}", id="alias-reordered"),
        pytest.param(
            "referenceId=" + "".join(f"%{ord(c):02x}" for c in RID) + "&code=%31%36%33%32%32",
            id="percent-encoded",
        ),
    ],
)
def test_form_body_is_accepted(body: str) -> None:
    assert fields_of(parse_request(post_form(body))) == (RID, "16322")


def test_form_body_with_utf8_charset_is_accepted() -> None:
    event = make_event("POST", body=f"referenceId={RID}", content_type=f"{FORM_CT}; charset=UTF-8")
    assert parse_request(event).reference_id == RID


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(f"referenceId={RID}&code=", ["code"], id="blank-code"),
        pytest.param("referenceId=&code=12345", ["referenceId"], id="blank-reference"),
        pytest.param(f"referenceId={RID}&code=+123", ["code"], id="plus-is-space"),
        pytest.param(f"referenceId={RID}&code=%ZZ1", ["code"], id="bad-escape-stays-literal"),
        pytest.param(f"referenceId={RID}&code=12%00", ["code"], id="nul"),
    ],
)
def test_malformed_form_values_are_rejected_by_field(body: str, expected: list[str]) -> None:
    assert fields(post_form(body)) == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(f"referenceId={RID}&code=%FF", id="invalid-utf8-escape"),
        pytest.param(f"referenceId={RID}&code=%E2%82", id="truncated-utf8-escape"),
        pytest.param(f"referenceId={RID}&code", id="pair-without-equals"),
        pytest.param("&".join(f"referenceId={RID}" for _ in range(17)), id="too-many-fields"),
    ],
)
def test_unparseable_form_body_is_rejected(body: str) -> None:
    assert rejected(post_form(body)) == [FieldError("body", "the form body is not valid")]


# --- content types, sizes, encodings, methods --------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("text/plain", id="text/plain"),
        pytest.param("application/xml", id="application/xml"),
        pytest.param("multipart/form-data; boundary=x", id="multipart"),
        pytest.param("application/jsonx", id="jsonx"),
    ],
)
def test_unsupported_content_type_is_rejected(content_type: str | None) -> None:
    event = make_event("POST", body=json.dumps({"referenceId": RID}), content_type=content_type)
    assert fields(event) == ["Content-Type"]


def padded_json(size: int, *, prefix: str = "") -> str:
    """A valid JSON request padded with spaces to exactly `size` UTF-8 bytes."""
    document = prefix + json.dumps({"referenceId": RID, "code": "16322"})
    padding = size - len(document.encode("utf-8"))
    assert padding >= 0
    return document + " " * padding


TOO_LARGE = FieldError("body", f"the body must not exceed {MAX_BODY_BYTES} bytes")


def test_body_of_exactly_4096_bytes_is_accepted() -> None:
    assert parse_request(post_json(padded_json(4096))).code == "16322"


@pytest.mark.parametrize("size", [4097, 5000, 6000, 100_000])
def test_body_over_4096_bytes_is_rejected(size: int) -> None:
    assert rejected(post_json(padded_json(size))) == [TOO_LARGE]


def test_body_size_counts_utf8_bytes_not_characters() -> None:
    # The BOM is one character but three bytes.
    assert parse_request(post_json(padded_json(4096, prefix="\ufeff"))).reference_id == RID
    assert rejected(post_json(padded_json(4097, prefix="\ufeff"))) == [TOO_LARGE]


def test_oversized_form_body_is_rejected() -> None:
    assert rejected(post_form(f"referenceId={RID}&code=16322" + "&" * 4096)) == [TOO_LARGE]


def b64(text: str | bytes) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(json.dumps({"referenceId": RID, "code": 16322}), JSON_CT, id="json"),
        pytest.param(f"referenceId={RID}&code=16322", FORM_CT, id="form"),
        pytest.param(padded_json(4096), JSON_CT, id="json-4096-bytes"),
    ],
)
def test_base64_encoded_body_is_decoded(body: str, content_type: str) -> None:
    event = make_event("POST", body=b64(body), content_type=content_type, base64_encoded=True)
    assert fields_of(parse_request(event)) == (RID, "16322")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param("not base64!", JSON_CT, id="not-base64"),
        pytest.param(b64(json.dumps({"referenceId": RID}))[:-2], JSON_CT, id="bad-padding"),
        pytest.param(b64(b'{"referenceId":"\xff"}'), JSON_CT, id="json-invalid-utf8"),
        pytest.param(b64(b"referenceId=\xff"), FORM_CT, id="form-invalid-utf8"),
        pytest.param(b64(padded_json(4097)), JSON_CT, id="over-4096-decoded"),
    ],
)
def test_bad_base64_body_is_rejected(body: str, content_type: str) -> None:
    event = make_event("POST", body=body, content_type=content_type, base64_encoded=True)
    assert fields(event) == ["body"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps({"referenceId": RID}), JSON_CT),
        (f"referenceId={RID}", FORM_CT),
        (" ", None),
    ],
)
def test_get_with_a_body_is_rejected(body: str, content_type: str | None) -> None:
    event = make_event("GET", query=[("referenceId", RID)], body=body, content_type=content_type)
    assert fields(event) == ["body"]


def test_get_with_an_empty_body_is_accepted() -> None:
    event = make_event("GET", query=[("referenceId", RID)], body="")
    assert parse_request(event).reference_id == RID


def test_several_problems_are_reported_together() -> None:
    errors = rejected(post_json({"referenceId": "nope", "code": "0", "extra": 1}))
    assert sorted(error.field for error in errors) == ["code", "extra", "referenceId"]


# --- classes of inputs: JSON PIN literals, POST body, query maps, repeated fields, charsets

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


# --- a JSON PIN is an integer literal ------------------------------------------------

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


# --- a POST takes fields from its body only ---------------------------------------------


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


# --- the two query maps must agree -------------------------------------------------------

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


# --- every value of a repeated field is validated -----------------------------------


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
    assert "\ufb00" in CASE_TRAPS  # the ff ligature: case folding turns it into two letters
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


# --- charsets that decode to the same text ----------------------------------------

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


# --- what a rejected request tells the client, word for word ------------------------------
# These messages reach the client in the 400 body: a change to one is a contract change.


def test_an_event_that_is_not_a_map_says_so() -> None:
    assert event_shape_errors([]) == [
        FieldError("event", "the event must be an API Gateway REST proxy event (a map)")
    ]


def test_event_shape_errors_name_the_event_and_each_member() -> None:
    errors = event_shape_errors({"path": "/v1/telephone-status", "headers": {"a": 1}})
    assert errors == [
        FieldError("event", "httpMethod is required"),
        FieldError("event", "headers must be a map of strings"),
    ]


def test_a_get_with_a_body_says_to_use_post() -> None:
    (error,) = rejected(make_event("GET", query=[("referenceId", RID)], body="x"))
    assert error == FieldError("body", "a GET request takes no body; use POST to send one")


def test_malformed_query_maps_say_so() -> None:
    event = make_event("GET")
    event._data["multiValueQueryStringParameters"] = {"referenceId": "not a list"}
    (error,) = rejected(event)
    assert error == FieldError("query", "the event's query string maps are malformed")


def test_a_post_with_a_query_names_each_query_field_once_by_its_contract_name() -> None:
    event = make_event(
        "POST",
        query=[("referenceid", RID), ("x\x01y", "1"), ("referenceid", RID)],
        body=json.dumps({"referenceId": RID}),
        content_type=JSON_CT,
    )
    assert [(e.field, e.message) for e in rejected(event)] == [
        ("referenceId", QUERY_ON_POST),
        ("x?y", QUERY_ON_POST),
    ]


@pytest.mark.parametrize("literal", ["12345.0", "1.2345e4", "12345.000000000000001"])
def test_a_pin_written_as_a_fraction_or_exponent_is_refused(literal: str) -> None:
    event = make_event(
        "POST", body='{"referenceId": "' + RID + '", "code": ' + literal + "}", content_type=JSON_CT
    )
    assert fields(event) == ["code"]
