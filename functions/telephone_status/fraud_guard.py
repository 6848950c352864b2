"""The fraud guard's counters (docs/security.md#fraud-guard): per number, per range, per hour.

Three items in the attempts table, none holding a phone number:

- ``phone#<keyed hash of the number>``: the send times of the last hour (`sends`, a list,
  oldest first), the newest (`lastSend`), a write counter (`n`), and the newest reference
  started for the number (`latestReference`, which supersedes the ones before it);
- ``prefix#<keyed hash of the number minus its last 4 digits>``: the same, over a day;
- ``hour#<yyyymmddhh>`` (UTC): the environment's sends in that clock hour (`sends`).

Each layer is one conditional UpdateItem that DynamoDB evaluates atomically, so concurrent
starts cannot overshoot: the common case appends the send time on condition that the list
still has room and the last send is old enough. When the list is full, the failed write's
old item (ReturnValuesOnConditionCheckFailure) shows whether its oldest entries have left
the window; if so, one more write replaces the list, on condition that nobody wrote since.

Order: number, range, environment. A refusal by a later layer gives back what the earlier
ones took (a conditional write that only undoes our own entry), so a script walking a range
does not lock out the honest owner of a number, and a budget refusal does not eat the
range's quota. The give-back is best effort: when it fails, the quota stays taken (the
safe direction).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from .attempts import KeyedHasher
from .aws_clients import CallDoesNotFit, ClientFactory, condition_failed
from .deadline import Deadline
from .errors import SendBudgetExhausted as BudgetRefusal
from .errors import ServiceUnavailable, TooManySends
from .observability import logger

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient

HOUR: Final = 3600
DAY: Final = 24 * HOUR
MAX_WRITES: Final = 4
COUNTER_LABEL: Final = b"telephone-status/send-counters/v1"

APPEND_UPDATE: Final = (
    "SET sends = list_append(if_not_exists(sends, :empty), :nowList), lastSend = :now,"
    " expiresAt = :expires ADD n :one"
)
APPEND_CONDITION: Final = (
    "(attribute_not_exists(sends) OR size(sends) < :max)"
    " AND (attribute_not_exists(lastSend) OR lastSend <= :intervalCutoff)"
)
REPLACE_UPDATE: Final = "SET sends = :sends, lastSend = :now, expiresAt = :expires ADD n :one"
HOUR_UPDATE: Final = "ADD sends :one SET expiresAt = if_not_exists(expiresAt, :expires)"
HOUR_CONDITION: Final = "attribute_not_exists(sends) OR sends < :max"


class Refused(Exception):
    """A layer said no; `layer` names it for the metric, `error` is the answer."""

    def __init__(self, layer: str, error: TooManySends | BudgetRefusal) -> None:
        super().__init__(layer)
        self.layer = layer
        self.error = error


@dataclass(frozen=True)
class _Taken:
    """One send recorded in a window item, enough to give it back."""

    key: str
    count: int  # `n` after our write
    index: int  # our entry's position in `sends`
    previous_last: int | None


@dataclass
class Admission:
    """What a start took from the guard, and what the 201 tells the client."""

    phone_key: str
    resend_after: int
    sends_remaining: int
    taken: list[_Taken] = field(default_factory=list)
    hour_key: str | None = None


@dataclass(frozen=True)
class _Outcome:
    taken: _Taken
    resend_after: int
    remaining: int


@dataclass(frozen=True)
class _Window:
    layer: str
    max_sends: int
    seconds: int
    min_interval: int
    keep_seconds: int  # the item's TTL after a send


class FraudGuard:
    def __init__(
        self,
        clients: ClientFactory[DynamoDBClient],
        table_name: str,
        *,
        max_per_phone: int,
        min_interval: int,
        max_per_prefix: int,
        max_per_hour: int,
        keep_seconds: int = HOUR,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clients = clients
        self._table = table_name
        # The number's item also names its newest reference, which must outlive every
        # reference it may have to supersede: kept for the verification lifetime too.
        self._phone = _Window("phone", max_per_phone, HOUR, min_interval, max(HOUR, keep_seconds))
        self._prefix = _Window("prefix", max_per_prefix, DAY, 0, DAY)
        self._max_per_hour = max_per_hour
        self._clock = clock
        self._hasher = KeyedHasher(COUNTER_LABEL)

    def phone_key(self, api_key: str, e164: str) -> str:
        return "phone#" + self._hasher.hexdigest(api_key, f"phone:{e164}")

    def admit(
        self, api_key: str, e164: str, prefix: str, deadline: Deadline, *, costs: bool = True
    ) -> Admission:
        """Takes one send from each layer, or raises Refused (having given back the rest).

        `costs=False` (a test number): the number's own limits only, no range or budget.
        """
        now = int(self._clock())
        phone_key = self.phone_key(api_key, e164)
        try:
            phone = self._take(phone_key, self._phone, now, deadline)
            admission = Admission(
                phone_key=phone_key,
                resend_after=phone.resend_after,
                sends_remaining=phone.remaining,
                taken=[phone.taken],
            )
            if not costs:
                return admission
            prefix_key = "prefix#" + self._hasher.hexdigest(api_key, f"prefix:{prefix}")
            try:
                in_range = self._take(prefix_key, self._prefix, now, deadline)
                admission.taken.append(in_range.taken)
                admission.hour_key, budget_resumes = self._take_hour(now, deadline)
            except Refused:
                self.give_back(admission, deadline)
                raise
            # The range binds this number too: the next send to it waits for both windows,
            # and for the next hour when this send took the hour's last.
            admission.resend_after = max(
                phone.resend_after, in_range.resend_after, budget_resumes or 0
            )
            admission.sends_remaining = min(phone.remaining, in_range.remaining)
            return admission
        except (BotoCoreError, ClientError, CallDoesNotFit) as exc:
            # Fail closed: without the counters nothing may be sent.
            raise ServiceUnavailable(
                "Verifications cannot be started right now; try again shortly.",
                reason=f"send counters unreachable: {type(exc).__name__}",
            ) from None
        except _UnexpectedCounter as exc:
            # Written by hand or by something else: no send on a count nobody can read
            # (docs/operations.md says what to do).
            logger.error(
                "Send counter item has an unexpected shape",
                extra={"counterKey": exc.key, "counterProblem": str(exc)},
            )
            raise ServiceUnavailable(
                "Verifications cannot be started right now; try again shortly.",
                reason=f"send counter unexpected: {exc}",
            ) from None

    def give_back(self, admission: Admission, deadline: Deadline) -> None:
        """Undoes the sends `admission` took (nothing was sent); best effort."""
        try:
            if admission.hour_key is not None:
                self._clients(deadline).update_item(
                    TableName=self._table,
                    Key=_key(admission.hour_key),
                    UpdateExpression="ADD sends :minusOne",
                    ConditionExpression="sends > :zero",
                    ExpressionAttributeValues={":minusOne": {"N": "-1"}, ":zero": {"N": "0"}},
                )
            for taken in reversed(admission.taken):
                self._untake(taken, deadline)
        except (BotoCoreError, ClientError, CallDoesNotFit) as exc:
            logger.warning("send counters not given back", extra={"error_type": type(exc).__name__})

    # ------------------------------------------------------------------ windows

    def _take(self, key: str, window: _Window, now: int, deadline: Deadline) -> _Outcome:
        try:
            return self._take_from(key, window, now, deadline)
        except _UnexpectedCounter as exc:
            raise _UnexpectedCounter(str(exc), key) from None

    def _take_from(self, key: str, window: _Window, now: int, deadline: Deadline) -> _Outcome:
        values: dict[str, Any] = {
            ":now": {"N": str(now)},
            ":expires": {"N": str(now + window.keep_seconds)},
            ":one": {"N": "1"},
        }
        fresh: list[int] = []
        old_count: int | None = None
        for attempt in range(MAX_WRITES):
            try:
                if attempt == 0:
                    result = self._update(
                        key,
                        APPEND_UPDATE,
                        APPEND_CONDITION,
                        {
                            **values,
                            ":nowList": {"L": [{"N": str(now)}]},
                            ":empty": {"L": []},
                            ":max": {"N": str(window.max_sends)},
                            ":intervalCutoff": {"N": str(now - window.min_interval)},
                        },
                        deadline,
                    )
                else:
                    result = self._update(
                        key,
                        REPLACE_UPDATE,
                        "n = :oldN" if old_count is not None else "attribute_not_exists(n)",
                        {**values, ":sends": {"L": [{"N": str(t)} for t in [*fresh, now]]}}
                        | ({":oldN": {"N": str(old_count)}} if old_count is not None else {}),
                        deadline,
                    )
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                old: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
                sends = _times(old)
                fresh = [t for t in sends if t > now - window.seconds]
                old_count = _number(old, "n")
                last = _number(old, "lastSend")
                wait = self._wait(window, fresh, last, now)
                if wait > 0:
                    raise Refused(
                        window.layer,
                        TooManySends(retry_after_seconds=wait, reason=f"{window.layer} limit"),
                    ) from None
                continue
            item = result["Attributes"]
            sends = _times(item)
            fresh = [t for t in sends if t > now - window.seconds]
            wait = self._wait(window, fresh, now, now)
            return _Outcome(
                taken=_Taken(
                    key=key,
                    count=_number(item, "n") or 0,
                    index=len(sends) - 1,
                    previous_last=sends[-2] if len(sends) > 1 else None,
                ),
                resend_after=now + wait,
                remaining=max(window.max_sends - len(fresh), 0),
            )
        raise ServiceUnavailable(
            "Verifications cannot be started right now; try again shortly.",
            reason=f"{window.layer} counter kept changing",
        )

    @staticmethod
    def _wait(window: _Window, fresh: list[int], last: int | None, now: int) -> int:
        """Seconds until this window takes one more send (0: it would now)."""
        ready = now
        if last is not None and window.min_interval:
            ready = max(ready, last + window.min_interval)
        if len(fresh) >= window.max_sends:
            # The send that must leave the window for one more to fit.
            ready = max(ready, fresh[len(fresh) - window.max_sends] + window.seconds)
        return ready - now

    def _untake(self, taken: _Taken, deadline: Deadline) -> None:
        values: dict[str, Any] = {":n": {"N": str(taken.count)}, ":one": {"N": "1"}}
        update = f"REMOVE sends[{taken.index}]"
        if taken.previous_last is None:
            update += ", lastSend"
        else:
            update = f"SET lastSend = :previous {update}"
            values[":previous"] = {"N": str(taken.previous_last)}
        try:
            self._update(taken.key, f"{update} ADD n :one", "n = :n", values, deadline)
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            # Someone sent since: our entry is no longer the newest; it stays (safe side).

    def _take_hour(self, now: int, deadline: Deadline) -> tuple[str, int | None]:
        """The hour's key, and when the next send may go if this one took the hour's last."""
        hour_start = now - now % HOUR
        key = "hour#" + datetime.fromtimestamp(hour_start, UTC).strftime("%Y%m%d%H")
        try:
            result = self._update(
                key,
                HOUR_UPDATE,
                HOUR_CONDITION,
                {
                    ":one": {"N": "1"},
                    ":max": {"N": str(self._max_per_hour)},
                    ":expires": {"N": str(hour_start + HOUR + DAY)},
                },
                deadline,
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            wait = max(1, hour_start + HOUR - now)
            raise Refused(
                "budget", BudgetRefusal(retry_after_seconds=wait, reason="hourly send budget")
            ) from None
        if (_number(result["Attributes"], "sends") or 0) < self._max_per_hour:
            return key, None
        return key, hour_start + HOUR

    def _update(
        self, key: str, update: str, condition: str, values: dict[str, Any], deadline: Deadline
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._clients(deadline).update_item(  # type: ignore[assignment]
            TableName=self._table,
            Key=_key(key),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return result


def _key(value: str) -> dict[str, Any]:
    return {"referenceId": {"S": value}}


class _UnexpectedCounter(Exception):
    """A counter item in a shape this function does not write (the message names no values)."""

    def __init__(self, problem: str, key: str = "") -> None:
        super().__init__(problem)
        self.key = key  # a keyed hash, never a phone number: the operator deletes this item


_WHOLE_NUMBER: Final = re.compile(r"0|[1-9][0-9]{0,37}")


def _whole_number(value: Any, name: str) -> int:
    if (
        isinstance(value, dict)
        and set(value) == {"N"}
        and isinstance(value["N"], str)
        and _WHOLE_NUMBER.fullmatch(value["N"])
    ):
        return int(value["N"])
    raise _UnexpectedCounter(f"{name} is not a whole number")


def _times(item: dict[str, Any]) -> list[int]:
    """The send times of a counter item; an item of another shape never grants a send."""
    if "sends" not in item:
        return []
    sends = item["sends"]
    if not (isinstance(sends, dict) and set(sends) == {"L"} and isinstance(sends["L"], list)):
        raise _UnexpectedCounter("sends is not a list")
    return [_whole_number(entry, "a send time") for entry in sends["L"]]


def _number(item: dict[str, Any], name: str) -> int | None:
    return _whole_number(item[name], name) if name in item else None
