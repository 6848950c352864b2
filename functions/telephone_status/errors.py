"""Every error the API answers with, with their HTTP status and code (docs/api.md#errors).

Messages are fixed texts written here: nothing the upstream or the client sent
(and so no key or PIN) ever reaches a response through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ApiError(Exception):
    """An error with a fixed HTTP status, machine code and human title."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    title: ClassVar[str] = "Internal error"
    default_detail: ClassVar[str] = "The request could not be processed."
    # Carried into the problem body / headers when set (TooManyAttempts).
    attempts_remaining: int | None = None
    retry_after_seconds: int | None = None

    def __init__(self, detail: str | None = None, *, reason: str | None = None) -> None:
        self.detail = detail or self.default_detail
        # `reason` is for logs only: a short, secret-free explanation.
        self.reason = reason or self.detail
        super().__init__(self.reason)


# Field names that may appear in logs. An unknown field's name is the client's text (it
# could be anything, a PIN included), so logs only say that there was one.
LOGGED_FIELD_NAMES = frozenset(
    {
        "referenceId",
        "code",
        "body",
        "Content-Type",
        "phoneNumber",
        "channel",
        "locale",
        "query",
        "event",
    }
)


class InvalidRequest(ApiError):
    status = 400
    code = "INVALID_REQUEST"
    title = "Invalid request"
    default_detail = "The request is not valid; see errors for each field."

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        self.errors = errors
        reason = "; ".join(
            f"{e.field if e.field in LOGGED_FIELD_NAMES else '(unknown field)'}: {e.message}"
            for e in errors
        )
        super().__init__(detail, reason=reason)


class RouteNotFound(ApiError):
    status = 404
    code = "NOT_FOUND"
    title = "Not found"
    default_detail = "No such resource."


class MethodNotAllowed(ApiError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    title = "Method not allowed"
    default_detail = "This resource accepts GET, POST and OPTIONS."

    def __init__(self, detail: str | None = None, *, allow: str = "GET, POST, OPTIONS") -> None:
        self.allow = allow
        super().__init__(detail)


class UnknownReference(ApiError):
    status = 404
    code = "UNKNOWN_REFERENCE"
    title = "Unknown reference"
    default_detail = "The telephone reference ID provided is not valid."


class _RetryLater(ApiError):
    """A refusal that says when to try again: `Retry-After`, whole seconds, at least 1."""

    def __init__(self, *, retry_after_seconds: int, reason: str | None = None) -> None:
        super().__init__(reason=reason)
        self.retry_after_seconds = max(1, retry_after_seconds)


class TooManyAttempts(_RetryLater):
    """The PIN attempt limit: Retry-After runs to the end of the window (docs/api.md#errors)."""

    status = 429
    code = "TOO_MANY_ATTEMPTS"
    title = "Too many attempts"
    default_detail = "Too many PIN checks for this reference ID; request a new call or SMS."

    def __init__(self, *, retry_after_seconds: int, reason: str | None = None) -> None:
        super().__init__(retry_after_seconds=retry_after_seconds, reason=reason)
        self.attempts_remaining = 0


class ServiceUnavailable(ApiError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
    title = "Service unavailable"
    default_detail = "The PIN cannot be checked right now; try again shortly."


class NotConfigured(ApiError):
    """The secret still holds the placeholder a fresh stack starts with (docs/deploy.md)."""

    status = 503
    code = "NOT_CONFIGURED"
    title = "Not configured"
    default_detail = "The service is not configured yet; try again later."


class InternalError(ApiError):
    pass


class UpstreamError(ApiError):
    """Something went wrong between us and ProxStop; `kind` labels the metric."""

    kind: ClassVar[str] = "upstream"


class UpstreamRejected(UpstreamError):
    status = 502
    code = "UPSTREAM_REJECTED"
    title = "Upstream rejected the request"
    default_detail = "The verification provider refused the request."
    kind = "rejected"


class UpstreamBadResponse(UpstreamError):
    status = 502
    code = "UPSTREAM_BAD_RESPONSE"
    title = "Bad upstream response"
    default_detail = "The verification provider sent an answer that could not be understood."
    kind = "bad_response"


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "UPSTREAM_UNAVAILABLE"
    title = "Upstream unavailable"
    default_detail = "The verification provider is unavailable; try again shortly."
    kind = "unavailable"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "UPSTREAM_TIMEOUT"
    title = "Upstream timeout"
    default_detail = "The verification provider did not answer in time."
    kind = "timeout"


class TooManySends(_RetryLater):
    """A number or number range reached its send limit (docs/security.md#fraud-guard)."""

    status = 429
    code = "TOO_MANY_SENDS"
    title = "Too many sends"
    default_detail = "Too many verifications were sent to this number recently; try again later."


class SendBudgetExhausted(_RetryLater):
    """The environment's hourly send budget is spent: the cost circuit breaker."""

    status = 503
    code = "SEND_BUDGET_EXHAUSTED"
    title = "Send budget exhausted"
    default_detail = "No more verifications can be sent this hour; try again later."


class CountryNotAllowed(ApiError):
    status = 403
    code = "COUNTRY_NOT_ALLOWED"
    title = "Country not allowed"
    default_detail = "Verifications cannot be sent to numbers in this country."


class VerificationExpired(ApiError):
    status = 410
    code = "VERIFICATION_EXPIRED"
    title = "Verification expired"
    default_detail = "This verification has expired; start a new one."


class VerificationSuperseded(ApiError):
    status = 409
    code = "VERIFICATION_SUPERSEDED"
    title = "Verification superseded"
    default_detail = "A newer verification was started for this number; use its reference ID."
