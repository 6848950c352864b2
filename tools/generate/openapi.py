"""Writes docs/openapi.json from the resolver (or, with --check, fails when it is stale)."""

from __future__ import annotations

import json
import sys
from typing import Any

from tools.generate import ROOT, write_or_check

OPENAPI = ROOT / "docs" / "openapi.json"


def render() -> str:
    sys.path.insert(0, str(ROOT / "functions"))
    from telephone_status.handler import app  # noqa: PLC0415 - needs sys.path first

    schema = app.get_openapi_json_schema(
        title="Telephone Status API",
        version="1.0.0",
        summary="Status of ProxStop phone-call and SMS verifications, and PIN checks.",
        description=(
            "Wraps ProxStop's telephonestatus endpoint. Errors are RFC 9457 problem+json "
            "documents with a machine-readable `code`."
        ),
    )
    document = json.loads(schema)
    _drop_default_422(document)
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _drop_default_422(document: dict[str, Any]) -> None:
    """Powertools documents a 422 for every validated route; this API answers 400 instead."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    text = json.dumps(document["paths"])
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f"#/components/schemas/{name}" not in text:
            schemas.pop(name, None)


def main() -> int:
    return write_or_check(OPENAPI, render, make_target="openapi", description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
