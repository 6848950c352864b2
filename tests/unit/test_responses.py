"""The responses module on its own: the last-resort 500 and the key set's response."""

from __future__ import annotations

import json

from telephone_status import responses
from telephone_status.models import JsonWebKeySet

KEY = {
    "kty": "EC",
    "crv": "P-256",
    "x": "A" * 43,
    "y": "B" * 43,
    "kid": "C" * 43,
    "use": "sig",
    "alg": "ES256",
}


def test_the_last_resort_500_is_a_complete_problem_document() -> None:
    result = responses.internal_error_result("req-1")
    assert {name: value for name, value in result.items() if name != "body"} == {
        "statusCode": 500,
        "multiValueHeaders": {"Content-Type": ["application/problem+json"]},
        "isBase64Encoded": False,
    }
    assert json.loads(result["body"]) == {
        "type": "about:blank",
        "title": "Internal error",
        "status": 500,
        "code": "INTERNAL_ERROR",
        "detail": responses.InternalError.default_detail,
        "requestId": "req-1",
    }


def test_the_key_set_is_a_public_cacheable_json_document() -> None:
    document = JsonWebKeySet.model_validate({"keys": [KEY]})
    response = responses.key_set(document)
    assert response.status_code == 200
    assert response.body is document
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
