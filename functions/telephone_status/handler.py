"""Lambda entry point: routing only. The work happens in request, service and responses."""

from __future__ import annotations

from typing import Any, Final

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from . import responses, service, snapstart
from .errors import (
    ApiError,
    FieldError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    RouteNotFound,
)
from .models import (
    REQUEST_FIELDS_SCHEMA,
    START_REQUEST_SCHEMA,
    START_RESPONSE_SCHEMA,
    JsonWebKeySet,
    ProblemBody,
    TelephoneStatusResponse,
)
from .observability import log_request_completed, logger, metrics
from .request import event_shape_errors, parse_request

ROUTE: Final = "/v1/telephone-status"
JWKS_ROUTE: Final = "/v1/jwks.json"
START_ROUTE: Final = "/v1/verifications"
START_METHODS: Final = "POST, OPTIONS"
_PROBLEM: Final[dict[str, Any]] = {"application/problem+json": {"model": ProblemBody}}
_ERROR_RESPONSES: Final[dict[int, Any]] = {
    status: {"description": description, "content": _PROBLEM}
    for status, description in {
        400: "INVALID_REQUEST: a missing, malformed, unknown or repeated field; bad body",
        404: (
            "UNKNOWN_REFERENCE: ProxStop does not know this reference id, or (with"
            " ACCEPT_EXTERNAL_REFERENCES=false) a PIN check on one this API did not start"
        ),
        409: "VERIFICATION_SUPERSEDED: a newer verification was started for the number",
        410: "VERIFICATION_EXPIRED: a PIN check after the started verification's expiresAt",
        429: "TOO_MANY_ATTEMPTS: the PIN attempt limit for this reference id is reached",
        500: "INTERNAL_ERROR",
        502: "UPSTREAM_REJECTED or UPSTREAM_BAD_RESPONSE",
        503: (
            "UPSTREAM_UNAVAILABLE, SERVICE_UNAVAILABLE (attempt store, Secrets Manager or"
            " token signing unavailable) or NOT_CONFIGURED (the API key secret still holds"
            " the placeholder)"
        ),
        504: "UPSTREAM_TIMEOUT",
    }.items()
}
# A 429 says when the attempt window ends (docs/api.md#errors).
_ERROR_RESPONSES[429]["headers"] = {
    "Retry-After": {
        "description": "Whole seconds until the PIN attempt window ends (at least 1).",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_FIELDS_SCHEMA: Final = REQUEST_FIELDS_SCHEMA
_RETRY_AFTER: Final = {
    "Retry-After": {
        "description": "Whole seconds until a send may succeed (at least 1).",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_START_RESPONSES: Final[dict[int, Any]] = {
    201: {
        "description": "The PIN is on its way; check it with the reference id.",
        "headers": {
            "Location": {
                "description": "The status lookup of the new reference id.",
                "schema": {"type": "string"},
            }
        },
        "content": {"application/json": {"schema": START_RESPONSE_SCHEMA}},
    },
    400: {
        "description": "INVALID_REQUEST: a bad field; a number that is not valid for its"
        " region or cannot receive a verification (premium rate, toll free, …); a fixed-line"
        " number by SMS; a number the provider cannot reach",
        "content": _PROBLEM,
    },
    403: {"description": "COUNTRY_NOT_ALLOWED", "content": _PROBLEM},
    404: {"description": "NOT_FOUND: starting verifications is off", "content": _PROBLEM},
    429: {
        "description": "TOO_MANY_SENDS: the number or its range reached its send limit",
        "content": _PROBLEM,
        "headers": _RETRY_AFTER,
    },
    500: {"description": "INTERNAL_ERROR", "content": _PROBLEM},
    502: {"description": "UPSTREAM_REJECTED or UPSTREAM_BAD_RESPONSE", "content": _PROBLEM},
    503: {
        "description": "SEND_BUDGET_EXHAUSTED (with Retry-After), UPSTREAM_UNAVAILABLE,"
        " SERVICE_UNAVAILABLE or NOT_CONFIGURED",
        "content": _PROBLEM,
        "headers": _RETRY_AFTER,
    },
    504: {"description": "UPSTREAM_TIMEOUT", "content": _PROBLEM},
}

app = APIGatewayRestResolver(enable_validation=True)
snapstart.register_hooks()  # no-op unless the runtime has SnapStart's snapshot_restore_py


@app.get(
    ROUTE,
    summary="Status of a call/SMS verification (and optionally whether a PIN is right)",
    description="Fields in the query string. Prefer POST when sending a `code`.",
    responses={200: {"description": "The normalised status"}, **_ERROR_RESPONSES},
    openapi_extensions={
        "parameters": [
            {
                "name": "referenceId",
                "in": "query",
                "required": True,
                "schema": _FIELDS_SCHEMA["properties"]["referenceId"],
            },
            {
                "name": "code",
                "in": "query",
                "required": False,
                "schema": _FIELDS_SCHEMA["properties"]["code"],
            },
        ]
    },
    tags=["telephone-status"],
)
def get_status() -> TelephoneStatusResponse:
    return service.check_status(parse_request(app.current_event), app.lambda_context)


@app.post(
    ROUTE,
    summary="Status of a call/SMS verification and whether the PIN is right",
    description=(
        "Fields as JSON or as a form body (at most 4 KiB), from the body only:"
        " a field in the query string of a POST is a 400."
    ),
    responses={200: {"description": "The normalised status"}, **_ERROR_RESPONSES},
    openapi_extensions={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _FIELDS_SCHEMA},
                "application/x-www-form-urlencoded": {"schema": _FIELDS_SCHEMA},
            },
        }
    },
    tags=["telephone-status"],
)
def post_status() -> TelephoneStatusResponse:
    return service.check_status(parse_request(app.current_event), app.lambda_context)


@app.get(
    JWKS_ROUTE,
    summary="Public key set that verifies the verification tokens (RFC 7517)",
    description="The ES256 key that signs `verification.token`; `kid` is its RFC 7638 "
    "thumbprint. Cacheable. 404 when token signing is not configured.",
    responses={
        200: {"description": "The JSON Web Key Set"},
        404: {"description": "NOT_FOUND: token signing is not configured", "content": _PROBLEM},
        503: {"description": "SERVICE_UNAVAILABLE: the key could not be read", "content": _PROBLEM},
    },
    tags=["verification"],
)
def get_key_set() -> Response[JsonWebKeySet]:
    document = service.key_set(app.lambda_context)
    if document is None:
        raise RouteNotFound()
    return responses.key_set(JsonWebKeySet.model_validate(document))


@app.post(
    START_ROUTE,
    summary="Start a verification: the API sends a PIN by SMS or call",
    description=(
        "Fields as JSON or as a form body (at most 4 KiB), from the body only. The PIN is"
        " generated here and sent to the provider only; check it with"
        " POST /v1/telephone-status. Behind the fraud guard; 404 when the environment"
        " lists no countries."
    ),
    responses=_START_RESPONSES,
    openapi_extensions={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": START_REQUEST_SCHEMA},
                "application/x-www-form-urlencoded": {"schema": START_REQUEST_SCHEMA},
            },
        }
    },
    tags=["verification"],
)
def start_verification() -> Response[str]:
    # Imported here: it brings libphonenumber, which the PIN check's cold start must not load.
    from . import starts  # noqa: PLC0415

    return starts.start(app.current_event, app.lambda_context)


@app.route(ROUTE, method="OPTIONS", include_in_schema=False)
def preflight() -> Response[str]:
    return responses.preflight()


@app.route(START_ROUTE, method="OPTIONS", include_in_schema=False)
def start_preflight() -> Response[str]:
    if not service.get_dependencies().settings.starts_enabled:
        raise RouteNotFound()
    return responses.preflight(START_METHODS)


@app.not_found
def not_found(_: NotFoundError) -> Response[str]:
    # Powertools matches "/v1/telephone-status/" too; so must the 405 decision.
    path = app.current_event.path.rstrip("/")
    error: ApiError = RouteNotFound()
    if path == ROUTE:
        error = MethodNotAllowed()
    elif path == JWKS_ROUTE:
        error = MethodNotAllowed("This resource accepts GET.", allow="GET")
    elif path == START_ROUTE and service.get_dependencies().settings.starts_enabled:
        error = MethodNotAllowed("This resource accepts POST and OPTIONS.", allow=START_METHODS)
    return _problem(error)


@app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
def api_error(error: ApiError) -> Response[str]:
    return _problem(error)


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def validation_error(error: RequestValidationError) -> Response[str]:
    fields = [
        FieldError(str(e.get("loc", ["body"])[-1]), str(e.get("msg"))) for e in error.errors()
    ]
    return _problem(InvalidRequest(fields))


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def unexpected_error(error: Exception) -> Response[str]:
    # The type only: a message or a trace could carry request data.
    return _problem(InternalError(reason=f"unexpected {type(error).__name__}"))


def _problem(error: ApiError) -> Response[str]:
    return responses.problem(
        error, responses.request_id(app.current_event.raw_event, app.lambda_context.aws_request_id)
    )


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@metrics.log_metrics
def _handle(event: Any, context: LambdaContext) -> dict[str, Any]:
    request_id = responses.request_id(event, context.aws_request_id)
    shape_errors = event_shape_errors(event)
    if shape_errors:
        # Nothing reads an event of the wrong shape: it gets its 400 here.
        result = responses.problem_result(InvalidRequest(shape_errors), request_id)
    else:
        try:
            result = app.resolve(event, context)
        except Exception as exc:
            logger.error("Resolver failed", extra={"error_type": type(exc).__name__})
            result = responses.internal_error_result(request_id)
    result = responses.finalise(result, event, service.allowed_origins())
    log_request_completed(event, result)
    return result


def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Never raises: whatever goes wrong, the caller gets a problem answer."""
    try:
        answer: dict[str, Any] = _handle(event, context)
    except Exception as exc:
        logger.error("Handler failed", extra={"error_type": type(exc).__name__})
        return responses.internal_error_result(responses.request_id(event, context.aws_request_id))
    return answer
