"""What the sandbox remembers: the accepted key, the journal, fault counters, connections."""

from __future__ import annotations

import hmac
import itertools
import threading
from typing import Any

from local.sandbox.starts import StartBook


class SandboxState:
    """Everything the control endpoints expose; shared by all connection threads."""

    def __init__(self, key: str) -> None:
        self._lock = threading.Lock()
        self._key = key
        self._journal: list[dict[str, Any]] = []
        self._counters: dict[str, int] = {}
        self._accepted = 0
        self._connection_ids = itertools.count(1)
        self.starts = StartBook()  # telephonesms / telephonecall and the inbox

    def key_matches(self, candidate: str | None) -> bool:
        with self._lock:
            key = self._key
        return candidate is not None and hmac.compare_digest(candidate.encode(), key.encode())

    def set_key(self, key: str) -> None:
        with self._lock:
            self._key = key

    def reset(self) -> None:
        with self._lock:
            self._journal.clear()
            self._counters.clear()
            self._accepted = 0
        self.starts.reset()

    def new_connection(self) -> int:
        """Counts an accepted TCP connection; ids stay unique across resets."""
        with self._lock:
            self._accepted += 1
            return next(self._connection_ids)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._journal.append(entry)

    def bump(self, reference: str) -> int:
        with self._lock:
            self._counters[reference] = self._counters.get(reference, 0) + 1
            return self._counters[reference]

    def journal(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._journal]

    def stats(self) -> dict[str, int]:
        """`connections` counts connections that carried upstream requests since the reset.

        Control requests are left out so a test's own bookkeeping does not
        disturb the count; `accepted` is every TCP connection accepted.
        """
        with self._lock:
            used = {entry["connection_id"] for entry in self._journal}
            return {
                "requests": len(self._journal),
                "connections": len(used),
                "accepted": self._accepted,
            }
