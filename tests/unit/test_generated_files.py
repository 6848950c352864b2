"""Generated files that are committed must match what the code generates now."""

from __future__ import annotations

import json

from tools.generate.openapi import OPENAPI
from tools.generate.openapi import render as render_openapi


def test_openapi_document_is_current() -> None:
    assert OPENAPI.read_text() == render_openapi(), "docs/openapi.json is stale: make openapi"


def test_openapi_documents_every_error_status_and_no_422() -> None:
    document = json.loads(render_openapi())
    for method in ("get", "post"):
        responses = document["paths"]["/v1/telephone-status"][method]["responses"]
        documented = {"200", "400", "404", "409", "410", "429", "500", "502", "503", "504"}
        assert set(responses) == documented
        for code in ("UPSTREAM_UNAVAILABLE", "SERVICE_UNAVAILABLE", "NOT_CONFIGURED"):
            assert code in responses["503"]["description"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_written_out_request_schema_is_the_models_own() -> None:
    from telephone_status.models import (  # noqa: PLC0415
        REQUEST_FIELDS_SCHEMA,
        TelephoneStatusRequest,
    )

    assert TelephoneStatusRequest.model_json_schema(by_alias=True) == REQUEST_FIELDS_SCHEMA
