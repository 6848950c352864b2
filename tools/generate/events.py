"""Writes events/*.json, the sample API Gateway REST proxy events (`--check`: verify only).

Why generated: the events must stay exactly what `build_rest_event` (and so
the local server and the tests) produce; request ids and times are pinned so
the committed files only change when the event shape does.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from local.lambda_runtime import API_PATH, ROOT, build_rest_event
from local.sandbox import PIN, VENDOR_REFERENCE

EVENTS_DIR: Final = ROOT / "events"
START_PATH: Final = "/v1/verifications"
STAGE: Final = "dev"
SOURCE_IP: Final = "203.0.113.10"  # TEST-NET-3: a documentation address
REQUEST_TIME: Final = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
UNKNOWN_REFERENCE: Final = "DEADBEEFDEADBEEFDEADBEEFDEADBEEF"
_COMMON_HEADERS: Final = {"Accept": "application/json", "User-Agent": "telephone-status-sample/1.0"}


def _event(
    name: str,
    method: str,
    *,
    path: str = API_PATH,
    query: list[tuple[str, str]] | None = None,
    content_type: str | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    headers = dict(_COMMON_HEADERS)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return build_rest_event(
        method,
        path,
        query=query,
        headers=headers,
        body=body,
        stage=STAGE,
        source_ip=SOURCE_IP,
        request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"telephone-status/events/{name}")),
        request_time=REQUEST_TIME,
    )


def _json(fields: dict[str, str]) -> str:
    return json.dumps(fields, separators=(",", ":"))


def events() -> dict[str, dict[str, Any]]:
    """File name -> event, for every sample event."""
    specs: dict[str, dict[str, Any]] = {
        "get-status": {"method": "GET", "query": [("referenceId", VENDOR_REFERENCE)]},
        "get-with-code": {
            "method": "GET",
            "query": [("referenceId", VENDOR_REFERENCE), ("code", PIN)],
        },
        "post-json": {
            "method": "POST",
            "content_type": "application/json",
            "body": _json({"referenceId": VENDOR_REFERENCE, "code": PIN}),
        },
        "post-form": {
            "method": "POST",
            "content_type": "application/x-www-form-urlencoded",
            "body": urlencode({"referenceId": VENDOR_REFERENCE, "code": PIN}),
        },
        "invalid-reference": {"method": "GET", "query": [("referenceId", VENDOR_REFERENCE[:31])]},
        "invalid-code": {
            "method": "POST",
            "content_type": "application/json",
            "body": _json({"referenceId": VENDOR_REFERENCE, "code": "0123"}),
        },
        "unknown-reference": {"method": "GET", "query": [("referenceId", UNKNOWN_REFERENCE)]},
        "get-jwks": {"method": "GET", "path": "/v1/jwks.json"},
        # Starting a verification: by SMS (JSON), by call (form, Spanish voice), a test
        # number (fixed PIN, no send) and a premium-rate number (refused before any send).
        "start-sms": {
            "method": "POST",
            "path": START_PATH,
            "content_type": "application/json",
            "body": _json({"phoneNumber": "+12025550142", "channel": "sms"}),
        },
        "start-call-form": {
            "method": "POST",
            "path": START_PATH,
            "content_type": "application/x-www-form-urlencoded",
            "body": urlencode({"phoneNumber": "+12025550143", "channel": "call", "locale": "es"}),
        },
        "start-test-number": {
            "method": "POST",
            "path": START_PATH,
            "content_type": "application/json",
            "body": _json({"phoneNumber": "+12025550123", "channel": "sms"}),
        },
        "start-premium-rate": {
            "method": "POST",
            "path": START_PATH,
            "content_type": "application/json",
            "body": _json({"phoneNumber": "+19005550199", "channel": "sms"}),
        },
    }
    return {f"{name}.json": _event(name, **spec) for name, spec in specs.items()}


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    stale: list[str] = []
    for name, event in events().items():
        path: Path = EVENTS_DIR / name
        wanted = render(event)
        current = path.read_text() if path.exists() else None
        if current == wanted:
            continue
        if args.check:
            stale.append(name)
        else:
            EVENTS_DIR.mkdir(exist_ok=True)
            path.write_text(wanted)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"stale in events/: {', '.join(stale)}; run `make events`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
