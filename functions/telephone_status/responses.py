"""HTTP responses: problem+json, the key set, preflight; headers every response carries."""

from __future__ import annotations

from typing import Any, Final

from aws_lambda_powertools.event_handler import Response

from .errors import ApiError, InternalError, InvalidRequest, MethodNotAllowed
from .models import FieldErrorBody, JsonWebKeySet, ProblemBody
from .observability import logger

PROBLEM_JSON: Final = "application/problem+json"
ALLOWED_METHODS: Final = "GET, POST, OPTIONS"
ALLOWED_HEADERS: Final = "Content-Type, Authorization, X-Api-Key, X-Amz-Date, X-Amz-Security-Token"
NO_STORE: Final = "no-store"
ALWAYS: Final = {
    "Cache-Control": NO_STORE,
    "X-Content-Type-Options": "nosniff",
}
# Response headers a browser may read only when told (CORS): the 429 and 405 hints.
EXPOSED_HEADERS: Final = "Retry-After, Allow"
# A started verification's 201 also lets the browser read where to check it.
CREATED_EXPOSED_HEADERS: Final = f"{EXPOSED_HEADERS}, Location"
# Only the public key set may be cached (docs/api.md#verification-token); it changes only with
# a new KMS key.
KEY_SET_CACHE_CONTROL: Final = "public, max-age=3600"


def request_id(event: object, fallback: str) -> str:
    context = event.get("requestContext") if isinstance(event, dict) else None
    found = context.get("requestId") if isinstance(context, dict) else None
    return found if isinstance(found, str) and found else fallback


def problem(error: ApiError, request_id: str) -> Response[str]:
    # Carried by the request's one log line (log_request_completed); cleared per invocation.
    logger.append_keys(errorCode=error.code, reason=error.reason)
    body = ProblemBody(
        title=error.title,
        status=error.status,
        code=error.code,
        detail=error.detail,
        request_id=request_id,
        errors=(
            [FieldErrorBody(field=e.field, message=e.message) for e in error.errors]
            if isinstance(error, InvalidRequest)
            else None
        ),
        attempts_remaining=error.attempts_remaining,
    )
    headers = {"Allow": error.allow} if isinstance(error, MethodNotAllowed) else {}
    if error.retry_after_seconds is not None:
        headers["Retry-After"] = str(error.retry_after_seconds)
    return Response(
        status_code=error.status,
        content_type=PROBLEM_JSON,
        body=body.model_dump_json(by_alias=True, exclude_none=True),
        headers=headers or None,
    )


def key_set(document: JsonWebKeySet) -> Response[JsonWebKeySet]:
    return Response(
        status_code=200,
        content_type="application/json",
        body=document,
        headers={"Cache-Control": KEY_SET_CACHE_CONTROL},
    )


def preflight(methods: str = ALLOWED_METHODS) -> Response[str]:
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
        },
        body="",
    )


def finalise(
    result: dict[str, Any], event: object, allowed_origins: tuple[str, ...]
) -> dict[str, Any]:
    """Adds the headers every response carries, whichever path produced it.

    `event` may be of any shape (a hand-made event): only string values are read from it.
    """
    if not isinstance(event, dict):
        event = {}
    headers: dict[str, list[str]] = result.setdefault("multiValueHeaders", {}) or {}
    result["multiValueHeaders"] = headers
    # A 200 that declared itself public (the key set) keeps its Cache-Control.
    cache_control = _cache_control(result)
    for name, value in ALWAYS.items():
        headers[name] = [value]
    if result.get("statusCode") == 200 and cache_control == KEY_SET_CACHE_CONTROL:
        headers["Cache-Control"] = [cache_control]
    origin = _header(event, "origin")
    exposed = CREATED_EXPOSED_HEADERS if result.get("statusCode") == 201 else EXPOSED_HEADERS
    if "*" in allowed_origins:
        # `*` answers every origin, and a request without one, alike: nothing varies.
        headers["Access-Control-Allow-Origin"] = ["*"]
        headers["Access-Control-Expose-Headers"] = [exposed]
    else:
        if allowed_origins:
            # The grant depends on Origin, so every response does (a granted one, a refused
            # one, one to a request without Origin): caches must key on it.
            _add_vary(headers, "Origin")
        if origin and origin in allowed_origins:
            headers["Access-Control-Allow-Origin"] = [origin]
            headers["Access-Control-Expose-Headers"] = [exposed]
        else:
            # A preflight from an origin outside the allow-list gets no CORS grant at all.
            for name in [name for name in headers if name.startswith("Access-Control-")]:
                del headers[name]
    return result


def problem_result(error: ApiError, request_id: str) -> dict[str, Any]:
    """A problem answer as a bare REST proxy result, for answers given without the resolver."""
    response = problem(error, request_id)
    headers = {name: [str(value)] for name, value in (response.headers or {}).items()}
    headers["Content-Type"] = [PROBLEM_JSON]
    return {
        "statusCode": response.status_code,
        "multiValueHeaders": headers,
        "body": response.body,
        "isBase64Encoded": False,
    }


def internal_error_result(request_id: str) -> dict[str, Any]:
    """Last resort when even the resolver failed: a bare REST proxy result."""
    return problem_result(InternalError(), request_id)


def _add_vary(headers: dict[str, list[str]], field: str) -> None:
    name = next((n for n in headers if n.lower() == "vary"), "Vary")
    listed = [item.strip() for value in headers.get(name, []) for item in value.split(",")]
    if field.lower() not in (item.lower() for item in listed if item):
        headers[name] = [", ".join([*(item for item in listed if item), field])]


def _cache_control(result: dict[str, Any]) -> str | None:
    for source in (result.get("multiValueHeaders") or {}, result.get("headers") or {}):
        for key, value in source.items():
            if key.lower() == "cache-control":
                # Single-valued headers only: anything else is not ours and gets no-store.
                if isinstance(value, list):
                    return str(value[0]) if len(value) == 1 else None
                return str(value)
    return None


def _header(event: dict[str, Any], name: str) -> str | None:
    headers = event.get("headers")
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return _string(value)
    return None


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None
