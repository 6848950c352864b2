"""SPEC §4/§5 and the upstream reference: parsing ProxStop's XML and JSON, normalising them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from telephone_status.errors import UpstreamBadResponse, UpstreamError, UpstreamUnavailable
from telephone_status.normalise import (
    UpstreamAnswer,
    UpstreamFailure,
    UpstreamFormat,
    parse_upstream,
    to_response,
)

RID = "97A677DD3E0A42B8EA58D93D05BAC89F"

# The vendor's documented examples, verbatim (tabs included).
DOC_XML_SUCCESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<response>
\t<status>100</status>
\t<valid>0</valid>
</response>
"""
# NOT valid JSON: the comma after 100 is missing, exactly as documented.
DOC_JSON_SUCCESS = b"""{
\t"version": "1.0",
\t"encoding": "UTF-8",
\t"response": {
\t\t"status": 100
\t\t"valid": 0
\t}
}
"""
DOC_XML_FAILURE = b"""<?xml version="1.0" encoding="UTF-8"?>
<failed>
\t<error_code>INVALID_TELEREFERENCE</error_code>
\t<error_msg>The telephone reference ID provided is not valid.</error_msg>
</failed>
"""
DOC_JSON_FAILURE = b"""{
\t"version": "1.0",
\t"encoding": "UTF-8",
\t"failed": {
\t\t"error_code": "INVALID_TELEREFERENCE",
\t\t"error_msg": "The telephone reference ID provided is not valid."
\t}
}
"""
VENDOR_DOCS: list[tuple[bytes, UpstreamFormat]] = [
    (DOC_XML_SUCCESS, "xml"),
    (DOC_JSON_SUCCESS, "json"),
    (DOC_XML_FAILURE, "xml"),
    (DOC_JSON_FAILURE, "json"),
]


def json_doc(response: dict[str, Any]) -> bytes:
    return json.dumps({"version": "1.0", "encoding": "UTF-8", "response": response}).encode()


def xml_doc(children: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<response>{children}</response>'.encode()


def json_failure(failed: Any) -> bytes:
    return json.dumps({"version": "1.0", "encoding": "UTF-8", "failed": failed}).encode()


def xml_failure(children: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<failed>{children}</failed>'.encode()


def answer_of(body: bytes, fmt: UpstreamFormat) -> UpstreamAnswer:
    result = parse_upstream(body, fmt)
    assert isinstance(result, UpstreamAnswer)
    return result


def failure_of(body: bytes, fmt: UpstreamFormat) -> UpstreamFailure:
    result = parse_upstream(body, fmt)
    assert isinstance(result, UpstreamFailure)
    return result


def client_body(body: bytes, fmt: UpstreamFormat, *, code_sent: bool = True) -> str:
    answer = answer_of(body, fmt)
    return to_response(RID, answer, code_sent=code_sent).model_dump_json(by_alias=True)


# --- the vendor's documented examples ----------------------------------------------------


@pytest.mark.parametrize(("body", "fmt"), [(DOC_XML_SUCCESS, "xml"), (DOC_JSON_SUCCESS, "json")])
def test_documented_success_examples_parse_to_status_100_valid_0(
    body: bytes, fmt: UpstreamFormat
) -> None:
    assert parse_upstream(body, fmt) == UpstreamAnswer(status=100, valid=0)


@pytest.mark.parametrize(("body", "fmt"), [(DOC_XML_FAILURE, "xml"), (DOC_JSON_FAILURE, "json")])
def test_documented_failure_examples_are_an_unknown_reference(
    body: bytes, fmt: UpstreamFormat
) -> None:
    failure = failure_of(body, fmt)
    assert failure.error_code == "INVALID_TELEREFERENCE"
    assert failure.is_unknown_reference


def test_documented_success_gives_the_spec_example_body_in_both_formats() -> None:
    expected = {
        "referenceId": RID,
        "status": {
            "code": 100,
            "channel": "call",
            "state": "delivered",
            "description": "Call answered",
            "final": True,
            "retryable": None,
        },
        "codeValid": True,
        "attemptsRemaining": None,  # set by the service once the attempt store has answered
        "verification": None,  # signing is the service's, after normalisation
    }
    xml_body = client_body(DOC_XML_SUCCESS, "xml")
    json_body = client_body(DOC_JSON_SUCCESS, "json")
    assert xml_body == json_body
    assert json.loads(xml_body) == expected


@pytest.mark.parametrize(("body", "fmt"), VENDOR_DOCS)
@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda b: b"\xef\xbb\xbf" + b, id="bom"),
        pytest.param(lambda b: b.replace(b"\n", b"\r\n"), id="crlf"),
        pytest.param(lambda b: b.replace(b"\t", b"    "), id="spaces"),
        pytest.param(lambda b: b.strip() + b"\r\n\n  ", id="trailing-whitespace"),
        pytest.param(lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n"), id="bom+crlf"),
    ],
)
def test_vendor_documents_survive_bom_crlf_and_whitespace(
    body: bytes, fmt: UpstreamFormat, variant: Any
) -> None:
    assert parse_upstream(variant(body), fmt) == parse_upstream(body, fmt)


@pytest.mark.parametrize(("body", "fmt"), VENDOR_DOCS)
def test_truncated_vendor_documents_are_bad_responses(body: bytes, fmt: UpstreamFormat) -> None:
    stripped = body.rstrip()
    for cut in {1, 10, len(stripped) // 3, len(stripped) // 2, len(stripped) - 1}:
        with pytest.raises(UpstreamBadResponse):
            parse_upstream(stripped[:cut], fmt)


# --- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (json_failure({"error_code": "INVALID_KEY", "error_msg": "Bad key"}), "json"),
        (xml_failure("<error_code>INVALID_KEY</error_code><error_msg>Bad key</error_msg>"), "xml"),
    ],
)
def test_other_error_codes_are_failures_but_not_an_unknown_reference(
    body: bytes, fmt: UpstreamFormat
) -> None:
    failure = failure_of(body, fmt)
    assert failure.error_code == "INVALID_KEY"
    assert not failure.is_unknown_reference


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (json_failure({"error_msg": "Something"}), "json"),
        (json_failure({}), "json"),
        (json_failure({"error_code": ""}), "json"),
        (json_failure({"error_code": None}), "json"),
        (json_failure({"error_code": 42}), "json"),
        (json_failure({"error_code": {"x": "INVALID_TELEREFERENCE"}}), "json"),
        (xml_failure("<error_msg>Something</error_msg>"), "xml"),
        (xml_failure(""), "xml"),
        (xml_failure("<error_code/>"), "xml"),
        (xml_failure("<error_code>   </error_code>"), "xml"),
    ],
)
def test_failure_without_a_usable_error_code_is_a_failure_not_a_crash(
    body: bytes, fmt: UpstreamFormat
) -> None:
    failure = failure_of(body, fmt)
    assert failure.error_code  # something to log
    assert not failure.is_unknown_reference


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (json_failure({"error_code": " INVALID_TELEREFERENCE\n"}), "json"),
        (xml_failure("\n\t<error_code>\n\t\tINVALID_TELEREFERENCE\n\t</error_code>\n"), "xml"),
        (b"<failed><ERROR_CODE>INVALID_TELEREFERENCE</ERROR_CODE></failed>", "xml"),
        (b'{"FAILED": {"Error_Code": "INVALID_TELEREFERENCE"}}', "json"),
    ],
)
def test_unknown_reference_is_recognised_despite_whitespace_and_key_case(
    body: bytes, fmt: UpstreamFormat
) -> None:
    assert failure_of(body, fmt).is_unknown_reference


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_logged_error_code_is_short_and_printable(fmt: UpstreamFormat) -> None:
    nasty = "BAD\x1b[31mKEY" + "X" * 500
    body = (
        json_failure({"error_code": nasty})
        if fmt == "json"
        else xml_failure("<error_code>BAD&#x9;KEY\u2028" + "X" * 500 + "</error_code>")
    )
    code = failure_of(body, fmt).error_code
    assert len(code) <= 64
    assert code.isprintable()


# --- status ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [100, "100", " 100 ", "0100", "00100", "\n\t100\n"],
    ids=repr,
)
def test_json_status_in_any_integer_dress_is_100(status: Any) -> None:
    assert answer_of(json_doc({"status": status}), "json") == UpstreamAnswer(100, None)


@pytest.mark.parametrize("status", ["100", " 100 ", "0100", "\n\t\t100\n\t"], ids=repr)
def test_xml_status_in_any_integer_dress_is_100(status: str) -> None:
    assert answer_of(xml_doc(f"<status>{status}</status>"), "xml") == UpstreamAnswer(100, None)


@pytest.mark.parametrize("status", [101, 222, 250, 599, 999, 103])
def test_unknown_or_known_three_digit_statuses_are_passed_on(status: int) -> None:
    assert answer_of(json_doc({"status": status}), "json").status == status
    assert answer_of(xml_doc(f"<status>{status}</status>"), "xml").status == status


@pytest.mark.parametrize(
    "status",
    [
        "abc",
        True,
        False,
        -5,
        1000,
        "-5",
        "1000",
        100.5,
        "100.0",
        "10 0",
        "1e2",
        "0x64",
        [100],
        {"code": 100},
        "\u0661\u0660\u0660",
    ],
    ids=repr,
)
def test_json_status_that_is_not_a_three_digit_number_is_a_bad_response(status: Any) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(json_doc({"status": status, "valid": 0}), "json")


@pytest.mark.parametrize(
    "status", ["abc", "true", "-5", "1000", "100.5", "10 0", "\u0661\u0660\u0660"]
)
def test_xml_status_that_is_not_a_three_digit_number_is_a_bad_response(status: str) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(xml_doc(f"<status>{status}</status><valid>0</valid>"), "xml")


def test_xml_status_element_holding_elements_is_a_bad_response() -> None:
    """SPEC §5: a `status` of the wrong shape is a 502, as the same shape in JSON is."""
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(json_doc({"status": {"code": "100"}}), "json")
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(xml_doc("<status><code>100</code></status>"), "xml")


# --- valid -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "valid"),
    [
        ({"status": 100, "valid": 0}, 0),
        ({"status": 100, "valid": -1}, -1),
        ({"status": 100, "valid": "0"}, 0),
        ({"status": 100, "valid": "-1"}, -1),
        ({"status": 100, "valid": " -1 "}, -1),
        ({"status": 100}, None),
        ({"status": 100, "valid": None}, None),
        ({"status": 100, "valid": ""}, None),
        ({"status": 100, "valid": "  "}, None),
    ],
    ids=repr,
)
def test_json_valid_values(response: dict[str, Any], valid: int | None) -> None:
    assert answer_of(json_doc(response), "json") == UpstreamAnswer(100, valid)


@pytest.mark.parametrize(
    ("children", "valid"),
    [
        ("<valid>0</valid>", 0),
        ("<valid>-1</valid>", -1),
        ("<valid> 0 </valid>", 0),
        ("", None),
        ("<valid/>", None),
        ("<valid></valid>", None),
        ("<valid>\n\t</valid>", None),
    ],
    ids=repr,
)
def test_xml_valid_values(children: str, valid: int | None) -> None:
    assert answer_of(xml_doc("<status>100</status>" + children), "xml") == UpstreamAnswer(
        100, valid
    )


@pytest.mark.parametrize(
    "valid", [1, -2, "1", "abc", True, False, 0.5, "0x0", "0.0", "zero", [0], {"v": 0}], ids=repr
)
def test_json_valid_other_than_0_or_minus_1_fails_closed(valid: Any) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(json_doc({"status": 100, "valid": valid}), "json")


@pytest.mark.parametrize("valid", ["1", "-2", "abc", "true", "0.5", "yes"])
def test_xml_valid_other_than_0_or_minus_1_fails_closed(valid: str) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(xml_doc(f"<status>100</status><valid>{valid}</valid>"), "xml")


def test_xml_valid_element_holding_elements_fails_closed() -> None:
    """SPEC §4: any `valid` other than 0 / -1 is a 502. An element is neither."""
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(json_doc({"status": 100, "valid": {"value": "-1"}}), "json")
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(xml_doc("<status>100</status><valid><value>-1</value></valid>"), "xml")


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        pytest.param(
            b'{"response": {"status": 100, "valid": -1, "valid": 0}}', "json", id="json-dup-key"
        ),
        pytest.param(
            b'{"response": {"status": 100, "valid": -1, "VALID": 0}}', "json", id="json-case-dup"
        ),
        pytest.param(
            xml_doc("<status>100</status><valid>-1</valid><valid>0</valid>"), "xml", id="xml-dup"
        ),
        pytest.param(
            xml_doc("<status>100</status><valid>-1</valid><Valid>0</Valid>"), "xml", id="xml-case"
        ),
    ],
)
def test_conflicting_valid_values_fail_closed(body: bytes, fmt: UpstreamFormat) -> None:
    """SPEC §4 (fail closed): an answer that says both -1 and 0 must not become codeValid true."""
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(body, fmt)


# --- empty, contentless and unparseable bodies ---------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("body", [b"", b" ", b"\r\n\t  \n"], ids=repr)
def test_empty_or_blank_body_means_unavailable(body: bytes, fmt: UpstreamFormat) -> None:
    with pytest.raises(UpstreamUnavailable):
        parse_upstream(body, fmt)


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (b"{}", "json"),
        (b'{"version": "1.0", "encoding": "UTF-8"}', "json"),
        (json_doc({}), "json"),
        (json_doc({"valid": 0}), "json"),
        (json_doc({"status": None, "valid": 0}), "json"),
        (json_doc({"status": ""}), "json"),
        (b'{"version": "1.0", "failed": null, "response": {"valid": -1}}', "json"),
        (b"<response/>", "xml"),
        (xml_doc(""), "xml"),
        (xml_doc("<valid>0</valid>"), "xml"),
        (xml_doc("<status/>"), "xml"),
        (b"<html><body>Service Unavailable</body></html>", "xml"),
    ],
)
def test_document_with_neither_status_nor_failed_means_unavailable(
    body: bytes, fmt: UpstreamFormat
) -> None:
    with pytest.raises(UpstreamUnavailable):
        parse_upstream(body, fmt)


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (b"<html>", "json"),
        (b"Service Unavailable", "json"),
        (b"[]", "json"),
        (b"null", "json"),
        (b'"status"', "json"),
        (b"100", "json"),
        (b'{"response": {"status": NaN}}', "json"),
        (b'{"failed": ["INVALID_TELEREFERENCE"]}', "json"),
        (DOC_JSON_SUCCESS, "xml"),
        (DOC_XML_SUCCESS, "json"),
        (b"Service Unavailable", "xml"),
        (b"<response><status>100</status>", "xml"),
        (b"<response><status>100</valid></response>", "xml"),
        (b"<a/><b/>", "xml"),
    ],
)
def test_unparseable_body_is_a_bad_response(body: bytes, fmt: UpstreamFormat) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(body, fmt)


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (b'{"response": {"status": 100, "note": "\xff\xfe"}}', "json"),
        (b'{"response": {"status": "\xe9100"}}', "json"),
        (b"<response><status>100</status><note>\xff</note></response>", "xml"),
        (
            b'<?xml version="1.0" encoding="UTF-8"?><response><status>1\xe900</status></response>',
            "xml",
        ),
        ('{"response": {"status": 100}}'.encode("utf-16"), "json"),
    ],
)
def test_non_utf8_bytes_are_a_bad_response(body: bytes, fmt: UpstreamFormat) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(body, fmt)


def test_xml_in_a_declared_single_byte_encoding_is_read() -> None:
    body = b'<?xml version="1.0" encoding="ISO-8859-1"?><response><status>200</status>' + (
        b"<note>caf\xe9</note><valid>-1</valid></response>"
    )
    assert parse_upstream(body, "xml") == UpstreamAnswer(200, -1)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE response [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<response><status>100</status><valid>&lol9;</valid></response>
"""


def test_billion_laughs_is_a_bad_response() -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(BILLION_LAUGHS, "xml")


def test_internal_entity_is_refused_even_when_harmless() -> None:
    body = b'<!DOCTYPE response [<!ENTITY ok "0">]><response><status>100</status>' + (
        b"<valid>&ok;</valid></response>"
    )
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(body, "xml")


@pytest.mark.parametrize(
    "template",
    [
        pytest.param(
            '<?xml version="1.0"?><!DOCTYPE response [<!ENTITY xxe SYSTEM "{uri}">]>'
            "<response><status>&xxe;</status></response>",
            id="external-entity-in-status",
        ),
        pytest.param(
            '<?xml version="1.0"?><!DOCTYPE failed [<!ENTITY xxe SYSTEM "{uri}">]>'
            "<failed><error_code>&xxe;</error_code></failed>",
            id="external-entity-in-error-code",
        ),
        pytest.param(
            '<?xml version="1.0"?><!DOCTYPE response [<!ENTITY % p SYSTEM "{uri}"> %p;]>'
            "<response><status>100</status></response>",
            id="parameter-entity",
        ),
        pytest.param(
            '<?xml version="1.0"?><!DOCTYPE response SYSTEM "{uri}">'
            "<response><status>100</status></response>",
            id="external-dtd",
        ),
    ],
)
def test_xxe_is_a_bad_response_and_never_reads_the_file(template: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("123")  # would be a perfect status if it were read
    body = template.format(uri=secret.as_uri()).encode()
    with pytest.raises(UpstreamBadResponse) as info:
        parse_upstream(body, "xml")
    assert "123" not in f"{info.value} {info.value.reason} {info.value.detail}"


def test_deeply_nested_json_is_a_bad_response() -> None:
    body = b'{"response": {"status": 100, "x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}}"
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(body, "json")


def test_deeply_nested_xml_is_handled_without_a_crash() -> None:
    nested = b"<a>" * 8_000 + b"</a>" * 8_000
    assert parse_upstream(b"<response><status>100</status>" + nested + b"</response>", "xml") == (
        UpstreamAnswer(100, None)
    )
    with pytest.raises(UpstreamError):
        parse_upstream(b"<response>" + nested + b"</response>", "xml")


# --- the lenient JSON repair only repairs ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"response": {"status": 203\n"valid": -1}}', UpstreamAnswer(203, -1)),
        (b'{"response": {"status": "203"\r\n  "valid": "-1"}}', UpstreamAnswer(203, -1)),
        (b'{"version": "1.0"\n"response": {"status": 200}\n}', UpstreamAnswer(200, None)),
        (b'{"response": {"valid": null\n"status": 101}}', UpstreamAnswer(101, None)),
    ],
)
def test_json_with_missing_commas_at_line_ends_is_repaired(
    body: bytes, expected: UpstreamAnswer
) -> None:
    assert parse_upstream(body, "json") == expected


@pytest.mark.parametrize(
    "body",
    [
        b'{"response": {"status": 100 "valid": 0}}',  # no newline: not the documented slip
        b'{"response": {"status": 100,\n,"valid": 0}}',
        b'{"response": {"status": 100\n"valid": 0}',
    ],
)
def test_other_json_damage_is_not_guessed_at(body: bytes) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(body, "json")


# --- one clean shape, whatever the format --------------------------------------------------


SAME_ANSWER_TWO_WAYS = [
    pytest.param(DOC_XML_SUCCESS, DOC_JSON_SUCCESS, id="vendor-examples"),
    pytest.param(
        xml_doc("<status>0203</status><valid>-1</valid>"),
        json_doc({"status": 203, "valid": -1}),
        id="padded-203-invalid",
    ),
    pytest.param(
        xml_doc("\n  <status> 200 </status>\n"),
        json_doc({"status": "200", "valid": None}),
        id="200-no-valid",
    ),
    pytest.param(
        xml_doc("<status>777</status><valid/>"),
        json_doc({"status": 777, "valid": ""}),
        id="unknown-code-blank-valid",
    ),
    pytest.param(
        b'<response xmlns="urn:x"><Status>129</Status><VALID>0</VALID></response>',
        b'{"Response": {"STATUS": "129", "Valid": "0"}}',
        id="namespace-and-key-case",
    ),
    pytest.param(
        b"<response><status>250</status><valid>0</valid><extra>x</extra></response>",
        b'{"status": 250, "valid": 0, "extra": "x"}',
        id="unwrapped-json",
    ),
]


@pytest.mark.parametrize(("xml_body", "json_body"), SAME_ANSWER_TWO_WAYS)
@pytest.mark.parametrize("code_sent", [True, False])
def test_the_same_answer_in_xml_and_json_gives_byte_identical_bodies(
    xml_body: bytes, json_body: bytes, code_sent: bool
) -> None:
    from_xml = client_body(xml_body, "xml", code_sent=code_sent)
    from_json = client_body(json_body, "json", code_sent=code_sent)
    assert from_xml == from_json


@pytest.mark.parametrize(
    ("valid", "code_sent", "code_valid"),
    [
        (0, True, True),
        (-1, True, False),
        (None, True, None),
        (0, False, None),
        (-1, False, None),
        (None, False, None),
    ],
)
def test_code_valid(valid: int | None, code_sent: bool, code_valid: bool | None) -> None:
    response = to_response(RID, UpstreamAnswer(status=100, valid=valid), code_sent=code_sent)
    assert response.code_valid is code_valid
    assert json.loads(response.model_dump_json(by_alias=True))["codeValid"] is code_valid


def test_response_body_shape_for_an_unpublished_code() -> None:
    response = to_response(RID, UpstreamAnswer(status=777, valid=None), code_sent=False)
    assert json.loads(response.model_dump_json(by_alias=True)) == {
        "referenceId": RID,
        "status": {
            "code": 777,
            "channel": "unknown",
            "state": "unknown",
            "description": None,
            "final": False,
            "retryable": None,
        },
        "codeValid": None,
        "attemptsRemaining": None,
        "verification": None,
    }


@pytest.mark.parametrize(
    ("status", "channel", "state", "description", "final", "retryable"),
    [
        (203, "sms", "pending", "Delivered to gateway", False, None),
        (107, "call", "failed", "Line busy", True, True),
        (211, "sms", "failed", "Permanent phone error", True, False),
        (290, "sms", "pending", None, False, None),
        (150, "call", "unknown", None, False, None),
    ],
)
def test_response_status_block_comes_from_the_catalogue(
    status: int,
    channel: str,
    state: str,
    description: str | None,
    final: bool,
    retryable: bool | None,
) -> None:
    body = to_response(RID, UpstreamAnswer(status=status, valid=-1), code_sent=True)
    assert body.status.model_dump() == {
        "code": status,
        "channel": channel,
        "state": state,
        "description": description,
        "final": final,
        "retryable": retryable,
    }
    assert body.code_valid is False


# --- whatever the readers raise on the upstream's bytes is a bad response ---------------------

XML_STATUS = b"<response><status>100</status></response>"
JSON_STATUS = b'{"response": {"status": 100}}'
# Encodings Python has no codec for, or whose codec does not turn bytes into text.
UNREADABLE_ENCODINGS = [
    "x-foo", "rot13", "rot_13", "zlib", "zip", "hex", "base64", "bz2", "uu", "quopri",
    "mbcs", "ansi", "dbcs", "a" * 300,
]  # fmt: skip


def _declared(encoding: str, rest: bytes = XML_STATUS) -> bytes:
    return f'<?xml version="1.0" encoding="{encoding}"?>'.encode() + rest


HOSTILE_BODIES = [
    *[pytest.param(_declared(e), "xml", id=f"xml-encoding-{e[:12]}") for e in UNREADABLE_ENCODINGS],
    pytest.param(_declared("utf-32"), "xml", id="xml-utf-32-declared-ascii-sent"),
    pytest.param(_declared("utf-16"), "xml", id="xml-utf-16-declared-ascii-sent"),
    pytest.param(_declared("utf-8", "<r>\u00e9</r>".encode("latin-1")), "xml", id="xml-bad-utf8"),
    pytest.param(_declared("ascii", "<r>\u00e9</r>".encode()), "xml", id="xml-not-ascii"),
    pytest.param(_declared("utf-8").replace(b"100", b"1\x0000"), "xml", id="xml-nul"),
    pytest.param(b"<r>&#0;</r>", "xml", id="xml-nul-reference"),
    pytest.param(b"<r>&#x110000;</r>", "xml", id="xml-reference-past-unicode"),
    pytest.param(b"<a>" * 200_000, "xml", id="xml-deep-unclosed"),
    pytest.param(
        b"<response><status>" + b"<a>" * 60_000 + b"</a>" * 60_000 + b"</status></response>",
        "xml",
        id="xml-deep-closed",
    ),
    pytest.param(b"\xef\xbb\xbf\xef\xbb\xbf" + XML_STATUS, "xml", id="xml-double-bom"),
    pytest.param(b"\xff\xfe\x00\x00" + XML_STATUS, "xml", id="xml-utf32-bom-ascii-body"),
    pytest.param(b"\xfe\xff" + XML_STATUS, "xml", id="xml-utf16-bom-ascii-body"),
    pytest.param(b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>', "xml", id="xml-entity"),
    pytest.param(b'<!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>', "xml", id="xml-external-dtd"),
    pytest.param(b"<r/><r/>", "xml", id="xml-two-roots"),
    pytest.param(b"\x00" * 64, "xml", id="xml-nuls"),
    pytest.param(b"[" * 200_000, "json", id="json-deep-arrays"),
    pytest.param(b'{"a":' * 100_000, "json", id="json-deep-objects"),
    pytest.param(b"\x00" + JSON_STATUS, "json", id="json-nul-first"),
    pytest.param(JSON_STATUS.replace(b"100", b"1\x0000"), "json", id="json-nul-inside"),
    pytest.param(b'{"response": {"status": "\xff"}}', "json", id="json-bad-utf8"),
    pytest.param(b"\xef\xbb\xbf\xef\xbb\xbf" + JSON_STATUS, "json", id="json-double-bom"),
    pytest.param(JSON_STATUS.decode().encode("utf-16"), "json", id="json-utf16"),
    pytest.param(JSON_STATUS.decode().encode("utf-32"), "json", id="json-utf32"),
    pytest.param(b'{"response": {"status": "\\ud800"}}', "json", id="json-lone-surrogate"),
    pytest.param(b'{"response": {"status": 1' + b"0" * 5000 + b"}}", "json", id="json-huge-int"),
    pytest.param(b'{"response": {"status": 1e99999}}', "json", id="json-huge-float"),
    pytest.param(b'{"response": {"status": NaN}}', "json", id="json-nan"),
    pytest.param(XML_STATUS, "json", id="json-given-xml"),
    pytest.param(JSON_STATUS, "xml", id="xml-given-json"),
]


@pytest.mark.parametrize(("body", "fmt"), HOSTILE_BODIES)
def test_bytes_the_readers_cannot_read_are_a_bad_response(body: bytes, fmt: UpstreamFormat) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(body, fmt)


@pytest.mark.parametrize("encoding", ["utf-8", "UTF-8", "us-ascii", "iso-8859-1", "windows-1252"])
def test_a_declared_encoding_python_reads_is_still_read(encoding: str) -> None:
    """The guard for the test above: an encoding declaration as such is no error."""
    assert parse_upstream(_declared(encoding), "xml") == UpstreamAnswer(status=100, valid=None)


class _Boom(Exception):
    """An exception type no reader documents."""


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_any_other_reader_exception_is_a_bad_response_too(
    fmt: UpstreamFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    from telephone_status import normalise  # noqa: PLC0415 (the module's own names are patched)

    def explode(*_: object, **__: object) -> None:
        raise _Boom

    monkeypatch.setattr(normalise, "fromstring", explode)
    monkeypatch.setattr(json, "loads", explode)
    with pytest.raises(UpstreamBadResponse):
        parse_upstream(JSON_STATUS if fmt == "json" else XML_STATUS, fmt)
