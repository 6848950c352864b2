"""Orchestrates one lookup: attempt limit, key, upstream call, normalisation.

Everything that costs something to build (settings, AWS clients, the key
store) is built once per execution environment, on the first invocation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from pydantic import ValidationError

from .attempts import AttemptLimiter, DynamoAttemptLimiter, NoAttemptLimit
from .credentials import ApiKeyStore
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
    count,
    count_upstream_failure,
    logger,
    record_upstream_latency,
)
from .settings import Settings
from .upstream import Deadline, UpstreamClient
from .verification import TokenSigner

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient
    from types_boto3_kms.client import KMSClient
    from types_boto3_secretsmanager.client import SecretsManagerClient

# AWS calls get short, fixed budgets: together they stay well inside the
# function timeout and leave the rest of the invocation to the upstream.
AWS_CLIENT_CONFIG: Final = Config(
    connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 2, "mode": "standard"}
)
# Time kept back from the invocation's deadline to build and return the answer.
RESPONSE_RESERVE_SECONDS: Final = 0.25
# A KMS call is not started with less time than this left (SPEC §7).
MIN_KMS_CALL_SECONDS: Final = 0.2
KMS_CONNECT_TIMEOUT_CAP: Final = 1.0
KMS_READ_TIMEOUT_CAP: Final = 2.0
# Budgets are rounded down to this step so that a handful of clients serve every call.
KMS_BUDGET_STEP_SECONDS: Final = 0.1


class NoTimeForAwsCall(Exception):
    """Too little of the invocation is left to start an AWS call."""


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    keys: ApiKeyStore
    limiter: AttemptLimiter
    upstream: UpstreamClient
    signer: TokenSigner | None


@functools.cache
def get_runtime() -> Runtime:
    """Built on the first invocation of an execution environment (a cold start)."""
    try:
        settings = Settings.from_environment()
    except ValidationError as exc:
        fields = ", ".join(str(error["loc"][0]) for error in exc.errors() if error["loc"])
        raise InternalError(reason=f"invalid configuration: {fields}") from None
    session = boto3.session.Session()
    secrets_client: SecretsManagerClient = session.client(
        "secretsmanager", config=AWS_CLIENT_CONFIG
    )
    limiter: AttemptLimiter
    if settings.attempts_table_name:

        def dynamodb() -> DynamoDBClient:
            return session.client("dynamodb", config=AWS_CLIENT_CONFIG)

        limiter = DynamoAttemptLimiter(
            dynamodb, settings.attempts_table_name, settings.max_code_attempts
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
            client_factory=kms_client_factory(session),
        )
    return Runtime(
        settings=settings,
        keys=ApiKeyStore(
            settings.secret_id,
            settings.secret_max_age_seconds,
            SecretsProvider(boto3_client=secrets_client),
        ),
        limiter=limiter,
        upstream=UpstreamClient(settings.api_url, settings.upstream_format),
        signer=signer,
    )


def kms_client_factory(session: boto3.session.Session) -> Callable[[Deadline], KMSClient]:
    """KMS clients whose timeouts fit what is left of the invocation (SPEC §7).

    A stand-in until a shared deadline-aware factory serves every AWS client.
    """

    @functools.lru_cache(maxsize=32)
    def client(budget_steps: int) -> KMSClient:
        budget = budget_steps * KMS_BUDGET_STEP_SECONDS
        connect = min(KMS_CONNECT_TIMEOUT_CAP, budget / 3)
        read = min(KMS_READ_TIMEOUT_CAP, budget - connect)
        # One retry only when two whole tries fit.
        tries = 2 if 2 * (connect + read) <= budget else 1
        config = Config(
            connect_timeout=connect,
            read_timeout=read,
            retries={"total_max_attempts": tries, "mode": "standard"},
        )
        return session.client("kms", config=config)

    def for_deadline(deadline: Deadline) -> KMSClient:
        remaining = deadline.remaining()
        if remaining < MIN_KMS_CALL_SECONDS:
            raise NoTimeForAwsCall
        return client(int(remaining / KMS_BUDGET_STEP_SECONDS))

    return for_deadline


def reset_cold_start_state() -> None:
    """Forget everything built per execution environment (tests, local server)."""
    get_runtime.cache_clear()


def allowed_origins() -> tuple[str, ...]:
    try:
        return get_runtime().settings.cors_allow_origins
    except InternalError:
        return ()


def deadline_for(context: LambdaContext) -> Deadline:
    remaining = context.get_remaining_time_in_millis() / 1000
    return Deadline(remaining - min(RESPONSE_RESERVE_SECONDS, remaining * 0.1))


def key_set(context: LambdaContext) -> dict[str, list[dict[str, str]]] | None:
    """The JWKS document (SPEC §9), or None when token signing is not configured."""
    signer = get_runtime().signer
    return None if signer is None else signer.key_set(deadline_for(context))


def check_status(
    request: TelephoneStatusRequest, context: LambdaContext
) -> TelephoneStatusResponse:
    deadline = deadline_for(context)
    runtime = get_runtime()
    if request.code is not None:
        runtime.limiter.register_check(request.reference_id)
    try:
        answer = _ask_upstream(runtime, request, deadline)
    except UpstreamError as exc:
        count_upstream_failure(exc.kind)
        raise
    response = to_response(request.reference_id, answer, code_sent=request.code is not None)
    if response.code_valid is not None:
        count(CODE_VALID if response.code_valid else CODE_INVALID)
    # Carried by the request's one log line (web.finalise); cleared per invocation.
    logger.append_keys(
        referenceId=request.reference_id,
        upstreamStatus=answer.status,
        codeChecked=request.code is not None,
        codeValid=response.code_valid,
    )
    if response.code_valid is True and runtime.signer is not None:
        # Only a correct PIN pays for signing; a failure is a 503 (SPEC §5).
        issued = runtime.signer.issue(request.reference_id, answer.status, deadline)
        count(TOKENS_ISSUED)
        response = response.model_copy(
            update={
                "verification": VerificationBody(token=issued.token, expires_at=issued.expires_at)
            }
        )
    return response


def _ask_upstream(
    runtime: Runtime, request: TelephoneStatusRequest, deadline: Deadline
) -> UpstreamAnswer:
    outcome = _exchange(runtime, request, deadline, runtime.keys.current())
    # ProxStop does not publish its bad-key code: any other failure may mean rotation.
    if (
        isinstance(outcome, UpstreamFailure)
        and not outcome.is_unknown_reference
        and runtime.keys.refresh_after_rejection()
    ):
        logger.info("API key changed in Secrets Manager; retrying once with the new key")
        outcome = _exchange(runtime, request, deadline, runtime.keys.current())
    if isinstance(outcome, UpstreamAnswer):
        return outcome
    if outcome.is_unknown_reference:
        raise UnknownReference(reason="upstream INVALID_TELEREFERENCE")
    count(UPSTREAM_REJECTED)
    logger.error("Upstream rejected the request", extra={"upstreamErrorCode": outcome.error_code})
    raise UpstreamRejected(reason=f"upstream error_code {outcome.error_code}")


def _exchange(
    runtime: Runtime, request: TelephoneStatusRequest, deadline: Deadline, key: str
) -> UpstreamAnswer | UpstreamFailure:
    reply = runtime.upstream.fetch(
        key=key, reference_id=request.reference_id, code=request.code, deadline=deadline
    )
    record_upstream_latency(reply.elapsed_ms)
    if reply.status >= 500 or reply.status == 429:
        raise UpstreamUnavailable(reason=f"upstream HTTP {reply.status}")
    if 300 <= reply.status < 400 or reply.status < 200:
        raise UpstreamBadResponse(reason=f"upstream HTTP {reply.status}")
    if reply.status >= 400:
        # A refusal (bad key, blocked account) may come as a 4xx with or without a document.
        try:
            outcome = parse_upstream(reply.body, runtime.settings.upstream_format)
        except UpstreamError:
            outcome = None
        if isinstance(outcome, UpstreamFailure):
            return outcome
        return UpstreamFailure(error_code=f"HTTP_{reply.status}")
    return parse_upstream(reply.body, runtime.settings.upstream_format)
