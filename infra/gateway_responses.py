"""API Gateway's own error responses, in the function's problem+json shape, with CORS."""

from __future__ import annotations

import json
from http import HTTPStatus

from aws_cdk import aws_apigateway as apigateway

from infra.config import EnvironmentConfig

# Errors API Gateway produces itself (before the function runs) get the function's RFC 9457
# shape with a literal status (docs/api.md#errors): (status, code, title, detail) per response
# type. Every type API Gateway documents is listed with its own status, so "as sent" holds
# literally; DEFAULT_4XX/5XX only catch types AWS may add later.
_GATEWAY_RESPONSES: dict[str, tuple[int, str, str, str]] = {
    "MISSING_AUTHENTICATION_TOKEN": (
        404,
        "NOT_FOUND",
        "Not found",
        "No such resource. The API serves /v1/verifications, /v1/telephone-status and"
        " /v1/jwks.json.",
    ),
    "THROTTLED": (
        429,
        "RATE_LIMITED",
        "Too many requests",
        "Too many requests; retry after the seconds given in Retry-After.",
    ),
    "QUOTA_EXCEEDED": (
        429,
        "QUOTA_EXCEEDED",
        "Quota exceeded",
        "This API key has used up its request quota.",
    ),
    "INVALID_API_KEY": (
        403,
        "INVALID_API_KEY",
        "Invalid API key",
        "The x-api-key header is missing or holds no valid key for this API.",
    ),
    "WAF_FILTERED": (403, "FORBIDDEN", "Forbidden", "The request was blocked by the firewall."),
    "REQUEST_TOO_LARGE": (
        413,
        "PAYLOAD_TOO_LARGE",
        "Payload too large",
        "The request is larger than the API accepts.",
    ),
    "INTEGRATION_TIMEOUT": (
        504,
        "GATEWAY_TIMEOUT",
        "Gateway timeout",
        "The API did not answer in time; try again.",
    ),
}
_OTHER_GATEWAY_RESPONSE_STATUS = {
    "ACCESS_DENIED": 403,
    "API_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_FAILURE": 500,
    "BAD_REQUEST_PARAMETERS": 400,
    "BAD_REQUEST_BODY": 400,
    "EXPIRED_TOKEN": 403,
    "INTEGRATION_FAILURE": 504,
    "INVALID_SIGNATURE": 403,
    "RESOURCE_NOT_FOUND": 404,
    "UNAUTHORIZED": 401,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 500,
}
for _type, _status in _OTHER_GATEWAY_RESPONSE_STATUS.items():
    _GATEWAY_RESPONSES[_type] = (
        _status,
        "GATEWAY_ERROR",
        HTTPStatus(_status).phrase,
        "API Gateway refused the request before it reached the service.",
    )
# Stage throttling refills every second; the usage-plan quota has no useful hint.
_RETRY_AFTER_SECONDS = {"THROTTLED": "1"}


def gateway_response_body(status: int, code: str, title: str, detail: str) -> str:
    # Every part is a literal written above, except the request id API Gateway substitutes.
    return json.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "code": code,
            "detail": detail,
            "requestId": "$context.requestId",
        }
    )


# The same list as the function's own responses (telephone_status.responses.EXPOSED_HEADERS; a test
# keeps the two equal).
EXPOSED_HEADERS = "Retry-After, Allow"


def gateway_cors_headers(config: EnvironmentConfig, response_type: str) -> dict[str, str]:
    """What an allowed browser origin needs to read API Gateway's own error responses.

    A gateway response header is a literal or a request value, never a choice. One allowed
    origin: that literal. Several: the request's Origin is reflected, which grants nothing
    beyond the allow-list because the WAF blocks every request whose Origin is outside it
    (config requires the WAF then). The WAF's own 403 gets no grant: its Origin may be one the
    WAF just refused.
    """
    origins = config.cors_allow_origins
    # Retry-After (THROTTLED) is no CORS-safelisted header: a browser reads it only when told.
    exposed = {"Vary": "'Origin'", "Access-Control-Expose-Headers": f"'{EXPOSED_HEADERS}'"}
    if len(origins) == 1:
        return {"Access-Control-Allow-Origin": f"'{origins[0]}'", **exposed}
    if response_type == "WAF_FILTERED":
        return {}
    return {"Access-Control-Allow-Origin": "method.request.header.Origin", **exposed}


def add_gateway_responses(rest_api: apigateway.RestApi, config: EnvironmentConfig) -> None:
    """One gateway response per response type API Gateway documents (see the table above)."""
    for response_type, (status, code, title, detail) in _GATEWAY_RESPONSES.items():
        headers = {
            "Content-Type": "'application/problem+json'",
            "Cache-Control": "'no-store'",
            **gateway_cors_headers(config, response_type),
        }
        if response_type in _RETRY_AFTER_SECONDS:
            headers["Retry-After"] = f"'{_RETRY_AFTER_SECONDS[response_type]}'"
        rest_api.add_gateway_response(
            "Gateway" + response_type.title().replace("_", ""),
            type=apigateway.ResponseType.of(response_type),
            status_code=str(status),
            response_headers=headers,
            templates={"application/json": gateway_response_body(status, code, title, detail)},
        )
