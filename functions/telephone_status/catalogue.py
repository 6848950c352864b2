"""ProxStop status codes as data: code -> channel, state, short description.

Published codes come from ProxStop's own table; the inferred ones (Telesign's
list, which ProxStop most likely resells) only carry a state, since ProxStop
never published a description for them.
"""

from __future__ import annotations

from typing import Final, Literal

Channel = Literal["call", "sms", "unknown"]
State = Literal["delivered", "pending", "failed", "unknown"]

PUBLISHED: Final[dict[int, tuple[str, State]]] = {
    100: ("Call answered", "delivered"),
    101: ("Not answered", "failed"),
    103: ("Call in progress", "pending"),
    105: ("Call not handled yet", "pending"),
    106: ("Call failed", "failed"),
    107: ("Line busy", "failed"),
    108: ("Call canceled", "failed"),
    129: ("Call blocked by customer request", "failed"),
    130: ("Call blocked", "failed"),
    200: ("Delivered to handset", "delivered"),
    203: ("Delivered to gateway", "pending"),
    207: ("Error delivering SMS to handset (reason unknown)", "failed"),
    210: ("Temporary phone error", "failed"),
    211: ("Permanent phone error", "failed"),
    220: ("Gateway/network cannot route message", "failed"),
    221: ("Message expired before delivery", "failed"),
    222: ("SMS not supported", "failed"),
}

INFERRED_STATES: Final[dict[int, State]] = {
    102: "failed",
    104: "failed",
    **dict.fromkeys((229, 230, 231, 233, 237, 238), "failed"),
    **dict.fromkeys((250, 251), "unknown"),
    **dict.fromkeys((290, 291, 292, 295), "pending"),
    **dict.fromkeys((*range(503, 508), *range(510, 516), 518, 519), "failed"),
    599: "unknown",
}


FINAL_STATES: Final[frozenset[State]] = frozenset({"delivered", "failed"})

# For failed codes only: may a new call/SMS to the same number succeed?
# (status.retryable, docs/api.md#success-response)
RETRY_MAY_HELP: Final[frozenset[int]] = frozenset(
    {101, 102, 106, 107, 108, 207, 210, 221, 503, 505}
)
RETRY_WONT_HELP: Final[frozenset[int]] = frozenset(
    {104, 129, 130, 211, 220, 222, *range(229, 239), 504, 506, 507, *range(510, 516), 518, 519}
)


def channel_of(code: int) -> Channel:
    """1xx codes describe a voice call, 2xx an SMS; anything else is unknown."""
    if 100 <= code <= 199:
        return "call"
    if 200 <= code <= 299:
        return "sms"
    return "unknown"


def state_of(code: int) -> State:
    published = PUBLISHED.get(code)
    if published is not None:
        return published[1]
    return INFERRED_STATES.get(code, "unknown")


def description_of(code: int) -> str | None:
    published = PUBLISHED.get(code)
    return published[0] if published is not None else None


def is_final(code: int) -> bool:
    """True once the state can no longer change (delivered, failed)."""
    return state_of(code) in FINAL_STATES


def retryable_of(code: int) -> bool | None:
    """Whether a new call/SMS may help; None unless the state is failed.

    Codes inside 229-238 that are not known as failed (232, 234-236) stay None.
    """
    if state_of(code) != "failed":
        return None
    if code in RETRY_MAY_HELP:
        return True
    if code in RETRY_WONT_HELP:
        return False
    return None
