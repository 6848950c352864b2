"""Lambda entry point: routing only. The work happens in request, service and web."""

from __future__ import annotations

from typing import Any, Final

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from . import service, snapstart, web
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
    JsonWebKeySet,
    ProblemBody,
    TelephoneStatusResponse,
)
from .observability import logger, metrics
from .request import event_shape_errors, parse_request

ROUTE: Final = "/v1/telephone-status"
JWKS_ROUTE: Final = "/v1/jwks.json"
_PROBLEM: Final[dict[str, Any]] = {"application/problem+json": {"model": ProblemBody}}
_ERROR_RESPONSES: Final[dict[int, Any]] = {
    status: {"description": description, "content": _PROBLEM}
    for status, description in {
        400: "INVALID_REQUEST: a missing, malformed, unknown or repeated field; bad body",
        404: "UNKNOWN_REFERENCE: ProxStop does not know this reference id",
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
# SPEC §5: a 429 says when the attempt window ends.
_ERROR_RESPONSES[429]["headers"] = {
    "Retry-After": {
        "description": "Whole seconds until the PIN attempt window ends (at least 1).",
        "schema": {"type": "integer", "minimum": 1},
    }
}
_FIELDS_SCHEMA: Final = REQUEST_FIELDS_SCHEMA

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
    return web.key_set(JsonWebKeySet.model_validate(document))


@app.route(ROUTE, method="OPTIONS", include_in_schema=False)
def preflight() -> Response[str]:
    return web.preflight()


@app.not_found
def not_found(_: NotFoundError) -> Response[str]:
    # Powertools matches "/v1/telephone-status/" too; so must the 405 decision.
    path = app.current_event.path.rstrip("/")
    error: ApiError = RouteNotFound()
    if path == ROUTE:
        error = MethodNotAllowed()
    elif path == JWKS_ROUTE:
        error = MethodNotAllowed("This resource accepts GET.", allow="GET")
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
    return web.problem(
        error, web.request_id(app.current_event.raw_event, app.lambda_context.aws_request_id)
    )


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@metrics.log_metrics
def _handle(event: Any, context: LambdaContext) -> dict[str, Any]:
    request_id = web.request_id(event, context.aws_request_id)
    shape_errors = event_shape_errors(event)
    if shape_errors:
        # Nothing reads an event of the wrong shape: it gets its 400 here.
        refused = web.problem_result(InvalidRequest(shape_errors), request_id)
        return web.finalise(refused, event, service.allowed_origins())
    try:
        result: dict[str, Any] = app.resolve(event, context)
    except Exception as exc:
        logger.error("Resolver failed", extra={"error_type": type(exc).__name__})
        result = web.internal_error_result(request_id)
    return web.finalise(result, event, service.allowed_origins())


def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Never raises: whatever goes wrong, the caller gets a problem answer."""
    try:
        answer: dict[str, Any] = _handle(event, context)
    except Exception as exc:
        logger.error("Handler failed", extra={"error_type": type(exc).__name__})
        return web.internal_error_result(web.request_id(event, context.aws_request_id))
    return answer
