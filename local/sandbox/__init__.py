"""A local ProxStop `telephonestatus` sandbox: the real upstream's contract, plus faults.

Why: the function must be exercised over real HTTP (keep-alive, timeouts,
resets, oversized and hostile bodies) without the vendor's service, and the
tests must be able to see exactly what the function sent upstream.

Upstream behaviour (docs/upstream.md):
`GET` (query string) and `POST` (`application/x-www-form-urlencoded` body) on
`/telephonestatus.json` and `/telephonestatus.xml`, fields `key`, `referenceid`
and `code`. Checks, in order: wrong or missing key -> failed `INVALID_KEY`;
missing referenceid -> failed `MISSING_REFERENCEID`; unknown reference ->
failed `INVALID_TELEREFERENCE` (all HTTP 200). `valid` is only present when a
`code` was sent: 0 when it equals the PIN (16322 for every reference), else -1.

Reference ids (compared case-insensitively):

- ``97A677DD3E0A42B8EA58D93D05BAC89F``: the vendor's example, status 100.
- ``00000000000000000000000000000NNN`` (29 zeros, NNN in 100..999): status NNN.
- ``FA1700000000000000000000000000NN`` (FA17, 26 zeros, NN): fault NN, listed once in
  `faults` (``python -m local.sandbox --faults`` prints the table as Markdown).

Control endpoints (not part of the upstream): ``GET /_sandbox/journal``,
``POST /_sandbox/reset``, ``POST /_sandbox/key`` (JSON ``{"key": "..."}``),
``GET /_sandbox/stats``, ``GET /_sandbox/faults`` (helpers in `client`: `control`,
`fetch_journal`, `reset_remote`). `stats` counts the requests and the distinct
connections that carried them since the reset (plus `accepted`: every TCP
connection, control ones included). Neither the key nor the code is ever
logged or journaled.

Modules: `documents` (keys, reference ids, response bodies), `faults` (the fault table),
`state` (journal, counters), `server` (HTTP), `client` (control client), `__main__` (CLI).
"""

from local.sandbox.client import control, fetch_journal, reset_remote
from local.sandbox.documents import (
    DEFAULT_KEY,
    INVALID_KEY_MSG,
    PIN,
    VENDOR_REFERENCE,
    status_reference,
)
from local.sandbox.faults import BIG_BODY_BYTES, FAULTS, Fault, fault_reference, markdown_table
from local.sandbox.server import (
    DEFAULT_SLOW_SECONDS,
    FORM_TYPE,
    MAX_REQUEST_BODY,
    SandboxServer,
    start_sandbox,
)
from local.sandbox.state import SandboxState

__all__ = [
    "BIG_BODY_BYTES",
    "DEFAULT_KEY",
    "DEFAULT_SLOW_SECONDS",
    "FAULTS",
    "FORM_TYPE",
    "INVALID_KEY_MSG",
    "MAX_REQUEST_BODY",
    "PIN",
    "VENDOR_REFERENCE",
    "Fault",
    "SandboxServer",
    "SandboxState",
    "control",
    "fault_reference",
    "fetch_journal",
    "markdown_table",
    "reset_remote",
    "start_sandbox",
    "status_reference",
]
