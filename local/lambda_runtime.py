"""A stand-in for the Lambda runtime and API Gateway, shared by local tools and tests.

Nothing here is deployed. It exists so that the local server, the integration
tests, the sample events and the benchmarks all feed the handler the same thing
API Gateway (REST API, Lambda proxy integration, payload format 1.0) and the
Lambda Python runtime would: one event builder, one context, one invoke helper.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from aws_lambda_powertools.utilities.typing import LambdaContext
from aws_lambda_powertools.utilities.typing.lambda_cognito_identity import LambdaCognitoIdentity

ROOT: Final = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR: Final = ROOT / "functions"

API_PATH: Final = "/v1/telephone-status"
PROXY_RESOURCE: Final = "/{proxy+}"
ACCOUNT_ID: Final = "123456789012"
API_ID: Final = "a1b2c3d4e5"
RESOURCE_ID: Final = "k9z8y7"
REGION: Final = "us-east-1"
DOMAIN_NAME: Final = f"{API_ID}.execute-api.{REGION}.amazonaws.com"

HeaderInput = Mapping[str, str] | Sequence[tuple[str, str]]


class LocalContext(LambdaContext):
    """The Lambda context object, with a real deadline.

    Subclasses Powertools' LambdaContext so that it type-checks wherever the
    handler expects one; the remaining time counts down from construction so
    that the function's timeout budgeting is exercised locally too.
    """

    def __init__(
        self,
        timeout_seconds: float = 10.0,
        function_name: str = "telephone-status-local",
        memory_limit_in_mb: int = 256,
    ) -> None:
        self._deadline = time.monotonic() + timeout_seconds
        self._function_name = function_name
        self._function_version = "$LATEST"
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self._invoked_function_arn = arn
        self._memory_limit_in_mb = memory_limit_in_mb
        self._aws_request_id = str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{function_name}"
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        self._log_stream_name = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        # Like the real runtime for an API Gateway invocation: no Cognito
        # identity (both ids None) and no mobile client context.
        identity = LambdaCognitoIdentity()
        vars(identity).update(_cognito_identity_id=None, _cognito_identity_pool_id=None)
        self._identity = identity
        vars(self)["_client_context"] = None

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        """Milliseconds until the deadline, never negative (as the runtime reports it)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _canonical_headers(headers: HeaderInput | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def _group_headers(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Groups repeated headers case-insensitively, keeping the first spelling seen."""
    grouped: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for name, value in pairs:
        key = spelling.setdefault(name.lower(), name)
        grouped.setdefault(key, []).append(value)
    return grouped


def _trace_header(request_id: str, epoch_seconds: int) -> str:
    """An X-Ray trace header derived from the request id, so fixed inputs give fixed events."""
    digest = hashlib.sha256(request_id.encode()).hexdigest()
    return f"Root=1-{epoch_seconds:08x}-{digest[:24]}"


def build_rest_event(
    method: str,
    path: str = API_PATH,
    *,
    query: list[tuple[str, str]] | None = None,
    headers: HeaderInput | None = None,
    body: bytes | str | None = None,
    stage: str = "local",
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
    request_time: datetime | None = None,
) -> dict[str, Any]:
    """Builds the event API Gateway's REST API sends a Lambda proxy integration.

    Header and query maps follow API Gateway: the single-value maps keep the
    last value, the multi-value maps keep them all, and both are None when
    empty. A body that is not UTF-8 is base64-encoded as binary media would be.
    `request_id` and `request_time` pin the otherwise random parts (for the
    committed sample events).
    """
    method = method.upper()
    request_id = request_id or str(uuid.uuid4())
    when = (request_time or datetime.now(UTC)).astimezone(UTC)
    epoch_ms = int(when.timestamp() * 1000)
    resource = API_PATH if path == API_PATH else PROXY_RESOURCE

    pairs = _canonical_headers(headers)
    present = {name.lower() for name, _ in pairs}
    # The headers API Gateway itself adds in front of a regional endpoint.
    if "host" not in present:
        pairs.insert(0, ("Host", DOMAIN_NAME))
    if "x-amzn-trace-id" not in present:
        pairs.append(("X-Amzn-Trace-Id", _trace_header(request_id, epoch_ms // 1000)))
    forwarded = [value for name, value in pairs if name.lower() == "x-forwarded-for"]
    pairs = [(name, value) for name, value in pairs if name.lower() != "x-forwarded-for"]
    pairs.append(("X-Forwarded-For", ", ".join([*forwarded, source_ip])))
    if "x-forwarded-port" not in present:
        pairs.append(("X-Forwarded-Port", "443"))
    if "x-forwarded-proto" not in present:
        pairs.append(("X-Forwarded-Proto", "https"))
    multi_headers = _group_headers(pairs)
    single_headers = {name: values[-1] for name, values in multi_headers.items()}
    user_agent = next(
        (values[-1] for name, values in multi_headers.items() if name.lower() == "user-agent"),
        None,
    )

    multi_query: dict[str, list[str]] = {}
    for name, value in query or []:
        multi_query.setdefault(name, []).append(value)
    single_query = {name: values[-1] for name, values in multi_query.items()}

    encoded_body: str | None
    is_base64 = False
    if body is None or len(body) == 0:
        encoded_body = None
    elif isinstance(body, str):
        encoded_body = body
    else:
        try:
            encoded_body = body.decode("utf-8")
        except UnicodeDecodeError:
            encoded_body = base64.b64encode(body).decode("ascii")
            is_base64 = True

    extended_id = base64.b64encode(hashlib.sha256(request_id.encode()).digest()[:10]).decode()
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path.lstrip("/")} if resource == PROXY_RESOURCE else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": RESOURCE_ID,
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": extended_id,
            "requestTime": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": API_ID,
            "requestTimeEpoch": epoch_ms,
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": DOMAIN_NAME,
            "deploymentId": "d3pl0y",
            "apiId": API_ID,
        },
        "body": encoded_body,
        "isBase64Encoded": is_base64,
    }


def ensure_functions_on_path() -> None:
    """Makes `telephone_status` importable when run outside pytest (whose config adds it)."""
    functions = str(FUNCTIONS_DIR)
    if functions not in sys.path:
        sys.path.insert(0, functions)


def invoke(event: dict[str, Any], *, timeout_seconds: float = 10.0) -> dict[str, Any]:
    """Calls the real handler the way the runtime does: one event, a fresh context."""
    ensure_functions_on_path()
    from telephone_status.handler import lambda_handler  # noqa: PLC0415 (lazy on purpose)

    result: dict[str, Any] = lambda_handler(event, LocalContext(timeout_seconds))
    return result
