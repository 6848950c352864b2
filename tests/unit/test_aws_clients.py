"""AWS clients whose timeouts fit the invocation's remaining time (docs/upstream.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from telephone_status import deadline as deadline_module
from telephone_status.attempts import DynamoAttemptLimiter
from telephone_status.aws_clients import TIERS, AwsClients, CallDoesNotFit, tier_for
from telephone_status.deadline import Deadline
from telephone_status.errors import ServiceUnavailable

SMALLEST = TIERS[-1].worst_case_seconds


@dataclass
class RecordingSession:
    """Stands in for boto3's Session: records the clients asked for, hands out markers."""

    built: list[tuple[str, Any]] = field(default_factory=list)

    def client(self, service_name: str, config: Any = None) -> Any:
        self.built.append((service_name, config))
        return ("client", service_name, len(self.built))


def clients(session: RecordingSession) -> AwsClients:
    return AwsClients(session=cast(boto3.session.Session, session))


def test_tiers_are_ordered_largest_first_and_make_one_try_each() -> None:
    worst = [tier.worst_case_seconds for tier in TIERS]
    assert worst == sorted(worst, reverse=True)
    assert len(set(worst)) == len(worst)


@given(st.floats(min_value=0, max_value=60, allow_nan=False))
def test_the_chosen_tier_is_the_largest_that_fits(remaining: float) -> None:
    index = tier_for(remaining)
    fitting = [i for i, tier in enumerate(TIERS) if tier.worst_case_seconds <= remaining]
    assert index == (fitting[0] if fitting else None)


@pytest.mark.parametrize("remaining", [0.0, 0.05, SMALLEST - 0.01])
def test_a_call_that_cannot_fit_is_not_started(remaining: float) -> None:
    session = RecordingSession()
    with pytest.raises(CallDoesNotFit):
        clients(session).dynamodb(Deadline(remaining))
    assert session.built == [], "no client was even built"


def test_clients_are_built_once_per_service_and_tier_with_that_tiers_budget() -> None:
    session = RecordingSession()
    aws = clients(session)
    long, short = Deadline(30), Deadline(SMALLEST + 0.05)
    first = aws.dynamodb(long)
    assert aws.dynamodb(long) is first
    assert aws.dynamodb(short) is not first
    assert aws.kms(long) is not first  # type: ignore[comparison-overlap]
    assert aws.dynamodb(Deadline(30)) is first
    assert [name for name, _ in session.built] == ["dynamodb", "dynamodb", "kms"]
    for (_, config), tier in zip(session.built, (TIERS[0], TIERS[-1], TIERS[0]), strict=True):
        assert (config.connect_timeout, config.read_timeout) == (
            tier.connect_timeout,
            tier.read_timeout,
        )
        # One try: botocore's own retry pauses could outlast any budget.
        assert config.retries["total_max_attempts"] == 1


def test_prebuild_builds_every_tier_once_and_calls_then_build_nothing() -> None:
    session = RecordingSession()
    aws = clients(session)
    aws.prebuild(("dynamodb", "kms"))
    aws.prebuild(("dynamodb",))
    assert sorted(name for name, _ in session.built) == ["dynamodb"] * len(TIERS) + ["kms"] * len(
        TIERS
    )
    for remaining in (30, SMALLEST + 0.01):
        aws.dynamodb(Deadline(remaining))
        aws.kms(Deadline(remaining))
    assert len(session.built) == 2 * len(TIERS)


def test_the_limiter_fails_closed_without_calling_aws_when_no_call_fits() -> None:
    session = RecordingSession()
    limiter = DynamoAttemptLimiter(clients(session).dynamodb, "table", 5, 20)
    with pytest.raises(ServiceUnavailable):
        limiter.register_check("A" * 32, "12345", "key", Deadline(0.1))
    assert session.built == []


class SlowBuildTime:
    """A monotonic clock that moves only when a client is built (a cold start's model load)."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


def test_time_spent_building_a_client_is_counted_before_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = SlowBuildTime()
    monkeypatch.setattr(deadline_module, "time", clock)

    class SlowSession(RecordingSession):
        def client(self, service_name: str, config: Any = None) -> Any:
            clock.now += 1.0
            return super().client(service_name, config)

    session = SlowSession()
    chosen = clients(session).secretsmanager(Deadline(TIERS[0].worst_case_seconds + 0.5))
    # Tier 0 was built, but then no longer fitted: the call goes out on tier 1.
    assert [config.read_timeout for _, config in session.built] == [
        TIERS[0].read_timeout,
        TIERS[1].read_timeout,
    ]
    assert cast(Any, chosen) == ("client", "secretsmanager", 2)  # the second client built
