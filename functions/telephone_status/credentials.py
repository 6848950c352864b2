"""The ProxStop API key, read from Secrets Manager through Powertools parameters.

Powertools caches the secret for SECRET_MAX_AGE_SECONDS. On top of it this
keeps the last good key, so that a Secrets Manager outage does not take the
API down while a key is known, and rate-limits forced re-reads after the
upstream refuses the key (docs/upstream.md).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.base import BaseProvider
from botocore.exceptions import BotoCoreError, ClientError

from .aws_clients import CallDoesNotFit, ClientFactory, error_code
from .deadline import Deadline
from .errors import ApiError, InternalError, NotConfigured, ServiceUnavailable
from .observability import NOT_CONFIGURED, count, logger

if TYPE_CHECKING:
    from types_boto3_secretsmanager.client import SecretsManagerClient

FORCED_REFRESH_INTERVAL_SECONDS: Final = 60.0
# The key a freshly created secret holds until the operator puts the real one in. The CDK
# stack writes it (infra/secret.py; tests/infra checks the two agree). Never change it: a
# changed initial value in the template makes CloudFormation overwrite a key put in by hand.
PLACEHOLDER_API_KEY: Final = "REPLACE_WITH_PROXSTOP_API_KEY"
# Logged (with the secret's id) while the secret still holds the placeholder.
PLACEHOLDER_LOG: Final = (
    "ProxStop API key not configured: the secret still holds the placeholder. "
    "Put the real key into the secret named by the stack output SecretArn "
    "(make put-key ENV=<name>, docs/deploy.md); no restart is needed"
)
RETRY_AFTER_FAILURE_SECONDS: Final = 30.0
# Secrets Manager answers that say "not now" rather than "no such secret / no access".
TRANSIENT_ERROR_CODES: Final = frozenset(
    {"ThrottlingException", "InternalServiceError", "RequestTimeout", "ServiceUnavailable"}
)


class DeadlineSecretsProvider(SecretsProvider):
    """Powertools' Secrets Manager provider (cache, max_age, force_fetch), deadline-bound.

    Powertools holds one client per provider; here each read takes the client that fits
    the caller's Deadline (aws_clients), passed through `get(..., deadline=...)`.
    """

    def __init__(self, clients: ClientFactory[SecretsManagerClient]) -> None:
        BaseProvider.__init__(self)  # type: ignore[no-untyped-call]  # no default client: ours come per call
        self._clients = clients

    def _get(self, name: str, deadline: Deadline | None = None, **sdk_options: Any) -> str | bytes:
        if deadline is None:
            raise CallDoesNotFit("a secret read needs a deadline")  # pragma: no mutate
        answer = self._clients(deadline).get_secret_value(SecretId=name, **sdk_options)
        if "SecretString" in answer:
            return answer["SecretString"]
        return answer["SecretBinary"]


class ApiKeyStore:
    def __init__(
        self,
        secret_id: str,
        max_age_seconds: int,
        provider: SecretsProvider,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._provider = provider
        self._clock = clock
        self._last_key: str | None = None
        self._next_fetch_after_failure = 0.0
        # What the last failed read means to a request that has no cached key to fall
        # back on; repeated without asking Secrets Manager until the back-off ends.
        self._failure: ApiError | None = None
        self._last_forced: float | None = None

    def current(self, deadline: Deadline) -> str:
        """The key to use now; raises only when no usable key is known.

        NotConfigured (503) while the secret holds the placeholder, so that the caller
        fails before any attempt is counted or the upstream is called (docs/api.md#errors);
        ServiceUnavailable (503) when Secrets Manager cannot be reached in time;
        InternalError (500) when it answers that there is no usable key.
        """
        if self._backing_off():
            # A missing, denied, throttled or slow secret is not asked for again on every
            # request: the answer during the back-off comes at once.
            if self._last_key is None:
                raise self._remembered_failure()
            key = self._last_key
        else:
            key = self._read(deadline, force=False)
        # Past the cache (at most once a minute): the operator's key then works within a
        # minute of being put in, not only after SECRET_MAX_AGE_SECONDS.
        if key == PLACEHOLDER_API_KEY and self.refresh_after_rejection(deadline):
            key = self._last_key or key
        if key == PLACEHOLDER_API_KEY:
            count(NOT_CONFIGURED)
            logger.error(PLACEHOLDER_LOG, extra={"secretId": self._secret_id})
            raise NotConfigured(reason="API key secret holds the placeholder")  # pragma: no mutate
        return key

    def refresh_after_rejection(self, deadline: Deadline) -> bool:
        """Re-reads the secret past the cache; True when the key changed (rotation).

        At most once a minute, so that a persistent upstream error cannot turn
        into one Secrets Manager call per request. Raises ServiceUnavailable when
        Secrets Manager cannot be reached in time: the rejection may be a rotation
        we could not see, so "try again shortly" is the honest answer.
        """
        if self._backing_off():
            # A read failed moments ago: no forced read either. A key we could not check
            # because Secrets Manager is unreachable is "try again shortly", as below.
            if isinstance(self._failure, ServiceUnavailable):
                raise self._remembered_failure()
            return False
        now = self._clock()
        if (
            self._last_forced is not None
            and now - self._last_forced < FORCED_REFRESH_INTERVAL_SECONDS
        ):
            return False
        self._last_forced = now
        previous = self._last_key
        try:
            return self._read(deadline, force=True) != previous
        except InternalError:
            return False

    def _read(self, deadline: Deadline, *, force: bool) -> str:
        try:
            raw = self._provider.get(
                self._secret_id, max_age=self._max_age, force_fetch=force, deadline=deadline
            )
        except Exception as exc:  # Powertools wraps every SDK error in GetParameterError
            cause = exc.__context__ or exc
            transient = _is_transient(cause)
            name = type(cause).__name__  # pragma: no mutate
            failure: ApiError = (
                ServiceUnavailable(
                    "The service cannot answer right now; try again shortly.",
                    reason=f"Secrets Manager unreachable: {name}",  # pragma: no mutate
                )
                if transient
                else InternalError(
                    reason=f"API key secret unavailable: {name}"  # pragma: no mutate
                )
            )
            if not isinstance(cause, CallDoesNotFit):
                # Too little time left to ask is this request's lot, not Secrets Manager's.
                self._remember(failure)
            if self._last_key is not None and not (force and transient):
                logger.warning(
                    "Secrets Manager unavailable; keeping the cached API key",  # pragma: no mutate
                    extra={"error_type": name},
                )
                return self._last_key
            raise failure from None
        try:
            key = extract_api_key(raw)
        except InternalError as exc:
            # An operator's slip in the secret: asked for again after the back-off only.
            self._remember(exc)
            if self._last_key is None:
                raise
            # An operator's slip in the secret must not take down a working key.
            logger.warning(
                "Secret holds no usable API key; keeping the cached one",  # pragma: no mutate
                extra={"reason": exc.reason},
            )
            return self._last_key
        self._last_key = key
        self._failure = None
        return key

    def _backing_off(self) -> bool:
        return self._clock() < self._next_fetch_after_failure

    def _remember(self, failure: ApiError) -> None:
        self._next_fetch_after_failure = self._clock() + RETRY_AFTER_FAILURE_SECONDS
        self._failure = failure

    def _remembered_failure(self) -> ApiError:
        """A fresh error like the last read's (an exception object is not raised twice)."""
        failure = self._failure or ServiceUnavailable(
            reason="Secrets Manager read failed"  # pragma: no mutate
        )
        return type(failure)(
            failure.detail, reason=f"{failure.reason} (not asked again during the back-off)"
        )


def _is_transient(error: BaseException) -> bool:
    """Timeouts, refused or broken connections, no time left, or AWS saying "not now"."""
    if isinstance(error, ClientError):
        return error_code(error) in TRANSIENT_ERROR_CODES
    return isinstance(error, (BotoCoreError, CallDoesNotFit))


def extract_api_key(raw: object) -> str:
    """The secret string is either the bare key or JSON {"apiKey": "…"}.

    A usable key is printable ASCII without spaces. Anything else (a binary secret
    that is not UTF-8, control characters, Unicode look-alikes) is an operator's slip
    that the upstream would only refuse, forcing re-reads: a 500 that says so instead.
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _no_usable_key(
                "the binary secret is not UTF-8 text"  # pragma: no mutate
            ) from None
    if not isinstance(raw, str):
        raise _no_usable_key(
            "the secret is not a string"  # pragma: no mutate
        )
    text = raw.removeprefix("\ufeff").strip(_ASCII_WHITESPACE)
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            raise _no_usable_key(
                "the secret is invalid JSON"  # pragma: no mutate
            ) from None
        key = document.get("apiKey") if isinstance(document, dict) else None
        text = key.strip(_ASCII_WHITESPACE) if isinstance(key, str) else ""
    if not text:
        raise _no_usable_key(
            "the secret holds no key"  # pragma: no mutate
        )
    if not _KEY.fullmatch(text):
        raise _no_usable_key(
            "the key holds characters other than printable ASCII"  # pragma: no mutate
        )
    return text


_ASCII_WHITESPACE: Final = " \t\r\n"
_KEY: Final = re.compile(r"[!-~]+")


def _no_usable_key(why: str) -> InternalError:
    # Says what is wrong, never what the secret holds.
    return InternalError(
        "The API key secret holds no usable key.",
        reason=f"API key secret holds no usable key: {why}",
    )
