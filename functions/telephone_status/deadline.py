"""The invocation's deadline, shared by every outgoing call (upstream and AWS, docs/upstream.md)."""

from __future__ import annotations

import time


class Deadline:
    """A point in monotonic time by which the invocation's outgoing calls must be over."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + max(seconds, 0.0)

    def remaining(self) -> float:
        return max(self._end - time.monotonic(), 0.0)

    def expired(self) -> bool:
        return self.remaining() <= 0.0
