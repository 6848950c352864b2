"""Starting a verification (docs/api.md#starting-a-verification): the steps, in their order.

1. the fields (400); 2. the key (503 NOT_CONFIGURED); 3. test numbers, then the number
itself (400); 4. the fraud guard: country (403), then the counters (429 / 503), which are
written before anything is sent; 5. a fresh PIN; 6. telephonesms / telephonecall, never
repeated once it may have been sent; 7. the record that the PIN check reads.

Imported by the handler only when the route is called: it brings libphonenumber.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from . import phone
from .attempts import WINDOW_SECONDS
from .aws_clients import CallDoesNotFit, condition_failed
from .deadline import Deadline
from .errors import (
    CountryNotAllowed,
    FieldError,
    InvalidRequest,
    RouteNotFound,
    ServiceUnavailable,
    UpstreamError,
    UpstreamRejected,
)
from .fraud_guard import Admission, FraudGuard, Refused
from .normalise import StartAnswer, parse_start
from .observability import (
    UPSTREAM_REJECTED,
    count,
    count_refusal,
    count_send,
    count_upstream_failure,
    logger,
    record_upstream_latency,
)
from .request import LOCALES, StartRequest, parse_start_request
from .service import Dependencies, deadline_for, get_dependencies
from .upstream import NotSent, read_reply
from .verification import rfc3339_utc

STATUS_ROUTE: Final = "/v1/telephone-status"
# How long a started reference's record lives (its TTL, which also ends its PIN-check window):
# the 24 hours of any reference's window, counted from the start, so that a lockout's
# Retry-After never exceeds them; and at least an hour past verifyBy, so that a late check is
# told 410 rather than look like a reference the API never started.
RECORD_MIN_GRACE_SECONDS: Final = 60 * 60


def record_lifetime(verification_ttl_seconds: int) -> int:
    """Seconds from a start until its record expires (docs/api.md#starting-a-verification)."""
    return max(WINDOW_SECONDS, verification_ttl_seconds + RECORD_MIN_GRACE_SECONDS)


INVALID_TELEPHONE_MESSAGE: Final = "the provider says this number cannot be reached"
# The start's record, then its number's newest reference (named here for bench/ to reuse).
RECORD_UPDATE: Final = (
    "SET phoneNumber = :phone, channel = :channel, startedAt = :startedAt,"
    " verifyBy = :verifyBy, expiresAt = :expires"
)
LATEST_UPDATE: Final = "SET latestReference = :ref"


@dataclass(frozen=True)
class _Parts:
    """What only the start route needs, built on its first call per execution environment."""

    deps: Dependencies
    guard: FraudGuard


_parts: _Parts | None = None


def _parts_for(deps: Dependencies) -> _Parts:
    global _parts  # noqa: PLW0603 - one per execution environment, rebuilt after a reset
    if _parts is None or _parts.deps is not deps:
        settings = deps.settings
        assert settings.attempts_table_name is not None  # settings refuse starts without it
        _parts = _Parts(
            deps=deps,
            guard=FraudGuard(
                deps.aws.dynamodb,
                settings.attempts_table_name,
                max_per_phone=settings.max_sends_per_phone,
                min_interval=settings.min_send_interval_seconds,
                max_per_prefix=settings.max_sends_per_prefix,
                max_per_hour=settings.max_sends_per_hour,
                keep_seconds=record_lifetime(settings.verification_ttl_seconds),
            ),
        )
    return _parts


def start(event: APIGatewayProxyEvent, context: LambdaContext) -> Response[str]:
    deps = get_dependencies()
    settings = deps.settings
    if not settings.starts_enabled:
        raise RouteNotFound()
    request = parse_start_request(event)  # 1
    deadline = deadline_for(context)
    key = deps.keys.current(deadline)  # 2
    test_pin = settings.test_numbers.get(request.phone_number)  # 3
    try:
        number = (
            phone.parts(request.phone_number)
            if test_pin is not None
            else phone.classify(request.phone_number, request.channel)  # type: ignore[arg-type]
        )
    except InvalidRequest:
        count_refusal("number")
        raise
    if number.region not in settings.start_countries:  # 4
        count_refusal("country")
        raise CountryNotAllowed(reason="region not in START_COUNTRIES")
    parts = _parts_for(deps)
    try:
        admission = parts.guard.admit(
            key, number.e164, number.prefix, deadline, costs=test_pin is None
        )
    except Refused as refusal:
        count_refusal(refusal.layer)
        raise refusal.error from None
    logger.append_keys(channel=request.channel, country=number.region, testNumber=bool(test_pin))
    if test_pin is not None:
        # A random reference id nobody else issues; checked here, never upstream.
        reference_id = secrets.token_hex(16).upper()
    else:
        reference_id = _send(
            parts, request, number=number, key=key, admission=admission, deadline=deadline
        )
    now = int(time.time())
    verify_by = now + settings.verification_ttl_seconds
    _record(
        deps,
        reference_id,
        request=request,
        admission=admission,
        now=now,
        verify_by=verify_by,
        test_pin=test_pin,
        deadline=deadline,
    )
    logger.append_keys(referenceId=reference_id)
    body = {
        "referenceId": reference_id,
        "channel": request.channel,
        "phoneNumber": number.masked,
        "expiresAt": rfc3339_utc(verify_by),
        "resendAfter": rfc3339_utc(admission.resend_after),
        "sendsRemaining": admission.sends_remaining,
    }
    return Response(
        status_code=201,
        content_type="application/json",
        body=_json(body),
        headers={"Location": f"{STATUS_ROUTE}?referenceId={reference_id}"},
    )


def new_pin(length: int) -> str:
    """`length` digits from the CSPRNG, the first not 0 (so it reads as typed: 100-99999)."""
    first = str(1 + secrets.randbelow(9))
    return first + "".join(str(secrets.randbelow(10)) for _ in range(length - 1))


def _send(
    parts: _Parts,
    request: StartRequest,
    *,
    number: phone.PhoneNumber,
    key: str,
    admission: Admission,
    deadline: Deadline,
) -> str:
    """Steps 5 and 6: the PIN goes to the upstream and nowhere else."""
    fields = {
        "key": key,
        "country": str(number.country_code),
        "phone": number.national_number,
        "code": new_pin(parts.deps.settings.code_length),
    }
    if request.channel == "call":
        fields["message"] = LOCALES[request.locale]
    endpoint = "telephonecall" if request.channel == "call" else "telephonesms"
    try:
        reply = parts.deps.upstream.send_once(endpoint, fields, deadline)
    except NotSent as not_sent:
        # Nothing left this process: the counters are given back.
        parts.guard.give_back(admission, deadline)
        error = not_sent.error
        if isinstance(error, UpstreamError):
            count_upstream_failure(error.kind)
        raise error from None
    except UpstreamError as exc:
        count_send(request.channel, number.region or "unknown")
        count_upstream_failure(exc.kind)
        raise
    finally:
        fields.clear()  # the PIN is not kept a moment longer than the request
    count_send(request.channel, number.region or "unknown")
    record_upstream_latency(reply.elapsed_ms)
    logger.append_keys(upstreamMs=round(reply.elapsed_ms, 1))
    try:
        upstream_format = parts.deps.settings.upstream_format
        outcome = read_reply(reply, lambda body: parse_start(body, upstream_format))
    except UpstreamError as exc:
        count_upstream_failure(exc.kind)
        raise
    if isinstance(outcome, StartAnswer):
        return outcome.reference_id
    if outcome.is_invalid_telephone:
        raise InvalidRequest([FieldError("phoneNumber", INVALID_TELEPHONE_MESSAGE)])
    count(UPSTREAM_REJECTED)
    count_upstream_failure(UpstreamRejected.kind)
    logger.error("Upstream rejected the start", extra={"upstreamErrorCode": outcome.error_code})
    # A bad key is not published: the next request reads the secret again if it changed.
    # The start itself is not repeated: it may have been sent.
    parts.deps.keys.refresh_after_rejection(deadline)
    raise UpstreamRejected(reason=f"upstream error_code {outcome.error_code}")


def _record(
    deps: Dependencies,
    reference_id: str,
    *,
    request: StartRequest,
    admission: Admission,
    now: int,
    verify_by: int,
    test_pin: str | None,
    deadline: Deadline,
) -> None:
    """Step 7: the reference's record, then the number's newest reference supersedes the last."""
    table = deps.settings.attempts_table_name
    values: dict[str, Any] = {
        ":phone": {"S": request.phone_number},
        ":channel": {"S": request.channel},
        ":startedAt": {"N": str(now)},
        ":verifyBy": {"N": str(verify_by)},
        ":expires": {"N": str(now + record_lifetime(deps.settings.verification_ttl_seconds))},
    }
    update = RECORD_UPDATE
    if test_pin is not None:
        update += ", testNumber = :test"
        values[":test"] = {"BOOL": True}
    try:
        client = deps.aws.dynamodb(deadline)
        client.update_item(
            TableName=str(table),
            Key={"referenceId": {"S": reference_id}},
            UpdateExpression=update,
            ExpressionAttributeValues=values,
        )
        previous = (
            client.update_item(
                TableName=str(table),
                Key={"referenceId": {"S": admission.phone_key}},
                UpdateExpression=LATEST_UPDATE,
                ExpressionAttributeValues={":ref": {"S": reference_id}},
                ReturnValues="UPDATED_OLD",
            )
            .get("Attributes", {})
            .get("latestReference", {})
            .get("S")
        )
        if previous is not None and previous != reference_id:
            try:
                client.update_item(
                    TableName=str(table),
                    Key={"referenceId": {"S": previous}},
                    UpdateExpression="SET supersededBy = :ref",
                    ConditionExpression="attribute_exists(startedAt)",
                    ExpressionAttributeValues={":ref": {"S": reference_id}},
                )
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                # The previous record is gone (its TTL passed): nothing left to supersede.
    except (BotoCoreError, ClientError, CallDoesNotFit) as exc:
        # The code may be on its way, but without the record the check could not tell
        # this start from any other: fail closed, the client retries after resendAfter.
        logger.error("start not recorded", extra={"error_type": type(exc).__name__})
        raise ServiceUnavailable(
            "The verification could not be recorded; try again shortly.",
            reason=f"start record failed: {type(exc).__name__}",
        ) from None


def _json(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))
