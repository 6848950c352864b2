"""SPEC §3: request validation, through parse_request on API Gateway REST (1.0) events."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from telephone_status.errors import FieldError, InvalidRequest
from telephone_status.models import CODE_MESSAGE, REFERENCE_ID_MESSAGE, TelephoneStatusRequest
from telephone_status.request import MAX_BODY_BYTES, parse_request

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


# The same field in each of the three transports SPEC §3 names.
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
    # SPEC §3: an integer literal only (16322.0 and 1e4: see test_request_edges.py).
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
        # SPEC §3: the code is "a string (or JSON integer)"; the published OpenAPI schema
        # for it is oneOf string/integer. null is neither, so it is a malformed field.
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
    assert MAX_BODY_BYTES == 4096
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
