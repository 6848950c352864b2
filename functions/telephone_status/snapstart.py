"""Lambda SnapStart hooks: prepare the snapshot, and make a restored copy unique again.

With SnapStart (``snapStart`` in cdk.json) Lambda runs the module imports once when a version is
published, snapshots the memory, and resumes every new execution environment from that copy.

- Before the snapshot: build what the first request would otherwise build (settings, AWS
  clients, the upstream pool), so a restored environment starts warm. Nothing is fetched: the
  API key is never part of the snapshot, and no connection is opened.
- After each restore: re-seed ``random`` (every copy would otherwise draw the same retry jitter),
  and close every pooled HTTP connection, in case one was opened before the snapshot (a socket
  restored in many copies is not a connection any more; urllib3 reconnects a closed one).

The runtime ships ``snapshot_restore_py``; where it is absent (locally, tests, no SnapStart)
registering is a no-op.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable

import urllib3.connection

from .errors import ApiError
from .observability import logger

Hook = Callable[[], None]


def _runtime_registrars() -> tuple[Callable[[Hook], Hook], Callable[[Hook], Hook]] | None:
    try:
        from snapshot_restore_py import (  # type: ignore[import-untyped]  # noqa: PLC0415
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return None
    return register_before_snapshot, register_after_restore


def prepare_snapshot() -> None:
    """Build the per-environment dependencies now, so that it is in the snapshot."""
    from .service import get_dependencies  # noqa: PLC0415  - service imports this module's callers

    try:
        deps = get_dependencies()
    except ApiError:
        # A bad configuration is reported by the first request, as without SnapStart.
        logger.warning("SnapStart: dependencies not prepared before the snapshot")
        return
    # Every budget tier's client for every service in use: building one costs 15-160 ms,
    # which a restored environment would otherwise pay on its first requests.
    deps.aws.prebuild(deps.aws_services)


def close_pooled_connections() -> int:
    """Close every urllib3 connection alive in this process (ours and botocore's pools).

    A walk over live objects because the pools belong to several owners (our upstream pool,
    each botocore client's session); it runs once per restore, not per request.
    """
    closed = 0
    for candidate in gc.get_objects():
        if isinstance(candidate, urllib3.connection.HTTPConnection):
            candidate.close()
            closed += 1
    return closed


def after_restore() -> None:
    """Make this restored copy of the snapshot its own execution environment."""
    random.seed()  # from os.urandom: each copy draws its own jitter
    close_pooled_connections()


def register_hooks() -> bool:
    """Register the hooks with the SnapStart runtime; False where there is none."""
    registrars = _runtime_registrars()
    if registrars is None:
        return False
    register_before_snapshot, register_after_restore = registrars
    register_before_snapshot(prepare_snapshot)
    register_after_restore(after_restore)
    return True
