"""The control client: /_sandbox/ endpoints over HTTP, for code outside the sandbox's process."""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Final

from local.sandbox.documents import DEFAULT_KEY

# Never through an HTTP(S)_PROXY from the environment: the sandbox is on loopback.
_DIRECT: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def control(base_url: str, method: str, path: str, payload: object | None = None) -> Any:
    """Calls a /_sandbox/ endpoint over HTTP (e.g. "journal", "reset", "key") and returns its JSON.

    For clients outside the sandbox's process; in-process code can use SandboxServer's methods.
    """
    body = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        f"{base_url}/_sandbox/{path}",
        data=body,
        method=method,
        headers={"Content-Type": "application/json"} if body is not None else {},
    )
    with _DIRECT.open(request, timeout=5) as response:
        return json.load(response)


def fetch_journal(base_url: str) -> list[dict[str, Any]]:
    """Every upstream request the sandbox at `base_url` received since its last reset."""
    journal: list[dict[str, Any]] = control(base_url, "GET", "journal")
    return journal


def reset_remote(base_url: str, key: str = DEFAULT_KEY) -> None:
    """Clears journal, counters and stats, and makes `key` the accepted key again."""
    control(base_url, "POST", "reset")
    control(base_url, "POST", "key", {"key": key})
