"""Orchestrates one lookup: key, attempt record, upstream call, normalisation, token.

Everything that costs something to build (settings, AWS clients, the key
store) is built once per execution environment, on the first invocation.
"""

from __future__ import annotations

import functools
import hmac
import time
from dataclasses import dataclass
from typing import Final

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from .attempts import AttemptLimiter, DynamoAttemptLimiter, NoAttemptLimit, StartedReference
from .aws_clients import AwsClients
from .credentials import ApiKeyStore, DeadlineSecretsProvider
from .deadline import Deadline
from .errors import (
    InternalError,
    UnknownReference,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from .models import TelephoneStatusRequest, TelephoneStatusResponse, VerificationBody
from .normalise import UpstreamAnswer, UpstreamFailure, parse_upstream, to_response
from .observability import (
    CODE_INVALID,
    CODE_VALID,
    TOKENS_ISSUED,
    UPSTREAM_REJECTED,
    VERIFIED_STARTS,
    count,
    count_upstream_failure,
    logger,
    record_upstream_latency,
)
from .settings import Settings
from .upstream import StatusMeaning, UpstreamClient, status_meaning
from .verification import TokenSigner

# Time kept back from the invocation's deadline to build and return the answer.
RESPONSE_RESERVE_SECONDS: Final = 0.25


@dataclass(frozen=True)
class Dependencies:
    """What an execution environment builds once and every request uses."""

    settings: Settings
    keys: ApiKeyStore
    limiter: AttemptLimiter
    upstream: UpstreamClient
    signer: TokenSigner | None
    aws: AwsClients

    @property
    def aws_services(self) -> tuple[str, ...]:
        """The AWS services this configuration calls (their clients are built on first use)."""
        services = ["secretsmanager"]
        if isinstance(self.limiter, DynamoAttemptLimiter):
            services.append("dynamodb")
        if self.signer is not None:
            services.append("kms")
        return tuple(services)


@functools.cache
def get_dependencies() -> Dependencies:
    """Built on the first invocation of an execution environment (a cold start).

    AWS clients are built later still, on first use, per budget tier (aws_clients).
    """
    try:
        settings = Settings.from_environment()
    except ValidationError as exc:
        fields = ", ".join(str(error["loc"][0]) for error in exc.errors() if error["loc"])
        raise InternalError(reason=f"invalid configuration: {fields}") from None
    aws = AwsClients()
    limiter: AttemptLimiter
    if settings.attempts_table_name:
        limiter = DynamoAttemptLimiter(
            aws.dynamodb,
            settings.attempts_table_name,
            settings.max_code_attempts,
            settings.max_code_checks,
            accept_external=settings.accept_external_references,
        )
    else:
        logger.warning("ATTEMPTS_TABLE_NAME is unset: the PIN attempt limit is OFF")
        limiter = NoAttemptLimit()
    signer = None
    if settings.token_signing_key_id is not None and settings.token_issuer is not None:
        signer = TokenSigner(
            key_id=settings.token_signing_key_id,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            ttl_seconds=settings.token_ttl_seconds,
            client_factory=aws.kms,
        )
    return Dependencies(
        settings=settings,
        keys=ApiKeyStore(
            settings.secret_id,
            settings.secret_max_age_seconds,
            DeadlineSecretsProvider(aws.secretsmanager),
        ),
        limiter=limiter,
        upstream=UpstreamClient(settings.api_url, settings.upstream_format),
        signer=signer,
        aws=aws,
    )


def reset_cold_start_state() -> None:
    """Forget everything built per execution environment (tests, local server)."""
    get_dependencies.cache_clear()


def allowed_origins() -> tuple[str, ...]:
    try:
        return get_dependencies().settings.cors_allow_origins
    except InternalError:
        return ()


def deadline_for(context: LambdaContext) -> Deadline:
    remaining = context.get_remaining_time_in_millis() / 1000
    return Deadline(remaining - min(RESPONSE_RESERVE_SECONDS, remaining * 0.1))


def key_set(context: LambdaContext) -> dict[str, list[dict[str, str]]] | None:
    """The JWKS document, or None when token signing is off (docs/api.md#verification-token)."""
    signer = get_dependencies().signer
    return None if signer is None else signer.key_set(deadline_for(context))


def check_status(
    request: TelephoneStatusRequest, context: LambdaContext
) -> TelephoneStatusResponse:
    deadline = deadline_for(context)
    deps = get_dependencies()
    # The key first: a stack whose secret still holds the placeholder answers 503
    # NOT_CONFIGURED before any attempt is counted or the upstream is called (docs/api.md#errors),
    # and a check is never counted when the upstream could not be asked anyway.
    key = deps.keys.current(deadline)
    attempts_remaining = None
    started: StartedReference | None = None
    if request.code is not None:
        timer = time.perf_counter()
        record = deps.limiter.register_check(request.reference_id, request.code, key, deadline)
        attempts_remaining, started = record.remaining, record.started
        # For tracing a slow request from its log line (no X-Ray SDK subsegments).
        logger.append_keys(attemptStoreMs=round((time.perf_counter() - timer) * 1000, 1))
    elif deps.settings.test_numbers:
        # Only an environment with test numbers has references the upstream does not know.
        started = deps.limiter.started(request.reference_id, deadline)
    if started is not None and started.test_number:
        answer = _test_number_answer(deps, started, request.code)
    else:
        try:
            answer = _ask_upstream(deps, request, deadline, key)
        except UpstreamError as exc:
            count_upstream_failure(exc.kind)
            raise
    response = to_response(request.reference_id, answer, code_sent=request.code is not None)
    if attempts_remaining is not None:
        response = response.model_copy(update={"attempts_remaining": attempts_remaining})
    if response.code_valid is not None:
        count(CODE_VALID if response.code_valid else CODE_INVALID)
    # Carried by the request's one log line (log_request_completed); cleared per invocation.
    logger.append_keys(
        referenceId=request.reference_id,
        upstreamStatus=answer.status,
        codeChecked=request.code is not None,
        codeValid=response.code_valid,
    )
    if response.code_valid is True and started is not None and not started.test_number:
        # Verified per sent is the pumping alarm's ratio: test numbers are never sent.
        count(VERIFIED_STARTS)
    if response.code_valid is True and deps.signer is not None:
        # Only a correct PIN pays for signing; a failure is a 503 (docs/api.md#verification-token).
        issued = deps.signer.issue(
            request.reference_id,
            answer.status,
            deadline,
            phone_number=started.phone_number if started is not None else None,
            channel=started.channel if started is not None else None,
        )
        count(TOKENS_ISSUED)
        response = response.model_copy(
            update={
                "verification": VerificationBody(token=issued.token, expires_at=issued.expires_at)
            }
        )
    return response


def _test_number_answer(
    deps: Dependencies, started: StartedReference, code: str | None
) -> UpstreamAnswer:
    """A test number's reference, checked here: delivered, against the number's fixed PIN."""
    status = 100 if started.channel == "call" else 200
    if code is None:
        return UpstreamAnswer(status=status, valid=None)
    # A number since taken off the list has no PIN that matches (fail closed).
    expected = deps.settings.test_numbers.get(started.phone_number)
    matches = expected is not None and hmac.compare_digest(expected, code)
    return UpstreamAnswer(status=status, valid=0 if matches else -1)


def _ask_upstream(
    deps: Dependencies, request: TelephoneStatusRequest, deadline: Deadline, key: str
) -> UpstreamAnswer:
    outcome = _exchange(deps, request, deadline, key)
    # ProxStop does not publish its bad-key code: any other failure may mean rotation.
    if (
        isinstance(outcome, UpstreamFailure)
        and not outcome.is_unknown_reference
        and deps.keys.refresh_after_rejection(deadline)
    ):
        logger.info("API key changed in Secrets Manager; retrying once with the new key")
        outcome = _exchange(deps, request, deadline, deps.keys.current(deadline))
    if isinstance(outcome, UpstreamAnswer):
        return outcome
    if outcome.is_unknown_reference:
        raise UnknownReference(reason="upstream INVALID_TELEREFERENCE")
    count(UPSTREAM_REJECTED)
    logger.error("Upstream rejected the request", extra={"upstreamErrorCode": outcome.error_code})
    raise UpstreamRejected(reason=f"upstream error_code {outcome.error_code}")


def _exchange(
    deps: Dependencies, request: TelephoneStatusRequest, deadline: Deadline, key: str
) -> UpstreamAnswer | UpstreamFailure:
    reply = deps.upstream.fetch(
        key=key, reference_id=request.reference_id, code=request.code, deadline=deadline
    )
    record_upstream_latency(reply.elapsed_ms)
    logger.append_keys(upstreamMs=round(reply.elapsed_ms, 1))
    meaning = status_meaning(reply.status)
    if meaning is StatusMeaning.UNAVAILABLE:
        raise UpstreamUnavailable(reason=f"upstream HTTP {reply.status}")
    if meaning is StatusMeaning.NOT_AN_ANSWER:
        raise UpstreamBadResponse(reason=f"upstream HTTP {reply.status}")
    if meaning is StatusMeaning.REFUSAL:
        # A refusal (bad key, blocked account) may come as a 4xx with or without a document.
        try:
            outcome = parse_upstream(reply.body, deps.settings.upstream_format)
        except UpstreamError:
            outcome = None
        if isinstance(outcome, UpstreamFailure):
            return outcome
        return UpstreamFailure(error_code=f"HTTP_{reply.status}")
    return parse_upstream(reply.body, deps.settings.upstream_format)
