"""Powertools Logger and Metrics, shared by every module; metric names in one place.

No Tracer (X-Ray SDK) in the function: the function has Lambda active tracing, so X-Ray still
records every invocation's segment (initialisation, invocation, overhead) under the trace API
Gateway starts, and every log line carries its ``xray_trace_id``. What the SDK's subsegments
added (time spent upstream and in the attempt store) is in the request's one log line instead
(``upstreamMs``, ``attemptStoreMs``), at no import cost: in a Lambda-like environment the SDK
and the modules it patches cost ~95 ms of every cold start (``python -X importtime``), its
patching slowed each warm request by ~0.1-0.5 ms, and the SDK is in maintenance mode.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

# POWERTOOLS_* variables win; these defaults keep local runs and tests tidy.
SERVICE: Final = os.environ.get("POWERTOOLS_SERVICE_NAME") or "telephone-status"
NAMESPACE: Final = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "TelephoneStatus"

UPSTREAM_LATENCY: Final = "UpstreamLatency"
UPSTREAM_FAILURES: Final = "UpstreamFailures"
UPSTREAM_FAILURES_BY_KIND: Final = "UpstreamFailuresByKind"
UPSTREAM_REJECTED: Final = "UpstreamRejected"
CODE_VALID: Final = "CodeValid"
CODE_INVALID: Final = "CodeInvalid"
ATTEMPT_LOCKOUTS: Final = "AttemptLockouts"
NOT_CONFIGURED: Final = "NotConfigured"
TOKENS_ISSUED: Final = "TokensIssued"
TOKEN_SIGNING_FAILURES: Final = "TokenSigningFailures"  # noqa: S105 (a metric name)
# Starting verifications and the fraud guard (docs/security.md#fraud-guard).
VERIFICATION_SENDS: Final = "VerificationSends"
START_REFUSED: Final = "StartRefused"
SEND_BUDGET_EXHAUSTED: Final = "SendBudgetExhausted"
VERIFIED_STARTS: Final = "VerifiedStarts"

# Lambda's JSON log format applies the function's log level to the root logger; at DEBUG
# botocore would log Secrets Manager response bodies (the key) and urllib3 request lines.
# Third-party loggers stay at WARNING whatever the level: only our Logger speaks.
QUIET_LIBRARIES: Final = ("botocore", "boto3", "urllib3", "s3transfer")
for _library in QUIET_LIBRARIES:
    logging.getLogger(_library).setLevel(logging.WARNING)

# Requests that end before any metric is recorded (a 400, say) are normal here.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger: Final = Logger(service=SERVICE)
metrics: Final = Metrics(namespace=NAMESPACE, service=SERVICE)


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def count_upstream_failure(kind: str) -> None:
    count(UPSTREAM_FAILURES)
    # A per-kind dimension needs its own EMF document; failures are rare enough.
    with single_metric(
        name=UPSTREAM_FAILURES_BY_KIND, unit=MetricUnit.Count, value=1, namespace=NAMESPACE
    ) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        metric.add_dimension(name="kind", value=kind)


def record_upstream_latency(milliseconds: float) -> None:
    metrics.add_metric(
        name=UPSTREAM_LATENCY, unit=MetricUnit.Milliseconds, value=round(milliseconds, 3)
    )


def log_request_completed(event: object, result: dict[str, Any]) -> None:
    """The request's one log line, carrying the keys appended while it was handled."""
    status = result.get("statusCode", 500)
    log = logger.info if status < 400 else logger.warning if status < 500 else logger.error
    fields = event if isinstance(event, dict) else {}  # a hand-made event may be anything
    log(
        "Request completed",
        extra={
            "method": _string(fields.get("httpMethod")),
            "path": _string(fields.get("path")),  # never the query string: it may hold a PIN
            "statusCode": result.get("statusCode"),
        },
    )


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None


def count_send(channel: str, country: str) -> None:
    """A start that reached (or may have reached) the upstream: in total, and by channel and
    country (the SMS-pumping view)."""
    count(VERIFICATION_SENDS)
    with single_metric(
        name=VERIFICATION_SENDS, unit=MetricUnit.Count, value=1, namespace=NAMESPACE
    ) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        metric.add_dimension(name="Channel", value=channel)
        metric.add_dimension(name="Country", value=country)


def count_refusal(layer: str) -> None:
    """A start refused by a fraud guard layer: country, number, phone, prefix or budget."""
    with single_metric(
        name=START_REFUSED, unit=MetricUnit.Count, value=1, namespace=NAMESPACE
    ) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        metric.add_dimension(name="Layer", value=layer)
    if layer == "budget":
        count(SEND_BUDGET_EXHAUSTED)
